"""The connection proof's edges on the real path (stack on localaws, SNS, SQS, consumer):
an expired token, a redelivered request, and a deleted stack."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import connections, crud
from byok.custom_resource import StackRequest
from byok.db import session_scope
from byok.enablement import hash_secret
from byok.errors import ByokError
from byok.models import AuditEvent, utcnow
from byok.settings import Settings
from control import connections as control_connections
from control.consumer import CallbackConsumer
from starter.customer import tenant_session
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import prove_connection


def connection(engine: Engine, tenant: str) -> Any:
    with session_scope(engine) as session:
        row = crud.connections(session, tenant_id=tenant)[0]
        session.expunge(row)
        return row


def events(engine: Engine, tenant: str, action: str) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(AuditEvent).where(AuditEvent.tenant_id == tenant,
                                                         AuditEvent.action == action)).all())


async def test_an_expired_token_fails_the_stack(engine: Engine, settings: Settings, aws: Any,
                                                tenant: str, monkeypatch: Any) -> None:
    real = connections.request

    def expired(*args: Any, **kwargs: Any) -> Any:
        issued = real(*args, **kwargs)
        issued.connection.token_expires_at = utcnow() - timedelta(seconds=1)
        return issued
    monkeypatch.setattr(connections, "request", expired)
    with pytest.raises(ByokError, match="token expired"):
        await prove_connection(engine, settings, aws, tenant_id=tenant,
                               account_id=TENANT_ACCOUNT, regions=["us-east-1"])
    assert connection(engine, tenant).state == "failed"


async def test_a_redelivered_request_gets_the_same_answer_once(
        engine: Engine, settings: Settings, aws: Any, tenant: str) -> None:
    await prove_connection(engine, settings, aws, tenant_id=tenant, account_id=TENANT_ACCOUNT,
                           regions=["us-east-1"])
    row = connection(engine, tenant)
    # The request as SQS would hand it again; the issued token is shown only once, so the
    # test gives the connection a token it knows.
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        token = "A" * 36
        conn = crud.connections(session, tenant_id=t.id)[0]
        conn.token_hash = hash_secret(token)
        session.add(conn)
    request = StackRequest(
        request_type="Create", request_id="req-1",
        response_url=f"{settings.aws_endpoint_url}/cloudformation-response/none",
        stack_id=f"arn:aws:cloudformation:us-east-1:{TENANT_ACCOUNT}:stack/s/1",
        logical_resource_id="Notify", physical_resource_id="", account_id=TENANT_ACCOUNT,
        region="us-east-1", properties={
            "kind": "connection", "token": token, "account_native_id": TENANT_ACCOUNT,
            "role_arn": settings.role_arn(TENANT_ACCOUNT, row.role_name),
            "role_external_id": row.external_id})
    for _ in range(2):
        assert (await control_connections.deliver(engine, settings, aws, request))[1:] == \
            ("SUCCESS", "")
    assert connection(engine, tenant).state == "verified"
    assert events(engine, tenant, "connection.verified") == 1
    forged = dataclasses.replace(request, account_id="777788889999",
                                 stack_id="arn:aws:cloudformation:us-east-1:777788889999:stack/s/2")
    _, status, reason = await control_connections.deliver(engine, settings, aws, forged)
    assert status == "FAILED" and "runs in account 777788889999" in reason
    assert connection(engine, tenant).state == "verified"  # a forged report changes nothing


async def test_deleting_the_stack_ends_the_connection(engine: Engine, settings: Settings,
                                                      aws: Any, tenant: str) -> None:
    await prove_connection(engine, settings, aws, tenant_id=tenant, account_id=TENANT_ACCOUNT,
                           regions=["us-east-1"], stack_name="conn")
    cf = tenant_session(TENANT_ACCOUNT).client("cloudformation", region_name="us-east-1",
                                               endpoint_url=settings.aws_endpoint_url)
    cf.delete_stack(StackName="conn")
    consumer = CallbackConsumer(None, engine, settings, aws.service("sqs"), aws)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while connection(engine, tenant).state == "verified":
        assert loop.time() < deadline, "the stack's Delete never arrived"
        await consumer.poll_once(wait_seconds=1)
    row = connection(engine, tenant)
    assert row.state == "failed" and "stack was deleted" in (row.error_message or "")
    with session_scope(engine) as session, pytest.raises(ByokError, match="not verified"):
        connections.verified_for(session, tenant_id=tenant, region="us-east-1")
