"""Helpers for the enablement bad-input and fault tests: the tenant's AWS side, the database
facts every refusal must leave unchanged, and a private time-skipping Temporal server."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import audit, enablement
from byok.db import session_scope
from byok.messages import WalletView
from byok.models import AuditEvent, EnableToken, KeyBinding, Wallet
from byok.settings import Settings
from starter.customer import tenant_session
from tests.conftest import TENANT_ACCOUNT, VENV_BIN
from workflows.enable_byok import EnableByokWorkflow


def tenant_client(settings: Settings, service: str, region: str = "us-east-1",
                  account: str = TENANT_ACCOUNT) -> Any:
    """A boto3 client acting as the tenant account's root on localaws."""
    return tenant_session(account).client(service, region_name=region,
                                          endpoint_url=settings.aws_endpoint_url)


def tenant_keys(settings: Settings, region: str, account: str = TENANT_ACCOUNT) -> list[str]:
    """Key ids in one region of an account."""
    kms = tenant_client(settings, "kms", region, account)
    return sorted(k["KeyId"] for k in kms.list_keys()["Keys"])


async def result(env: Any, workflow_id: str) -> WalletView:
    """The workflow's result, letting the test server skip time meanwhile (only handles from
    start_workflow do that by themselves; ours come from the workflow id)."""
    handle = env.client.get_workflow_handle_for(EnableByokWorkflow.run, workflow_id)
    async with env.time_skipping_unlocked():
        view: WalletView = await handle.result()
    return view


async def terminate(client: Any, workflow_id: str) -> None:
    """End an enablement a test left waiting (a stray run would poll for days of skipped time)."""
    await client.get_workflow_handle(workflow_id).terminate(reason="test done")


@dataclass
class Snapshot:
    """What a refused callback must not change."""

    wallet: dict[str, Any]
    tokens: list[tuple[str, Any, Any, Any]]
    bindings: int
    audit_events: int


def snapshot(engine: Engine, tenant_id: str) -> Snapshot:
    with session_scope(engine) as session:
        wallet = session.get(Wallet, tenant_id)
        tokens = session.exec(select(EnableToken).where(EnableToken.tenant_id == tenant_id)
                              .order_by(EnableToken.created_at)).all()  # type: ignore[arg-type]
        return Snapshot(
            wallet=wallet.model_dump(exclude={"updated_at", "progress"}) if wallet else {},
            tokens=[(t.token_hash, t.used_at, t.voided_at, t.external_id) for t in tokens],
            bindings=len(session.exec(select(KeyBinding).where(
                KeyBinding.tenant_id == tenant_id)).all()),
            audit_events=len(session.exec(select(AuditEvent).where(
                AuditEvent.tenant_id == tenant_id)).all()))


def wallet(engine: Engine, tenant_id: str) -> Wallet:
    with session_scope(engine) as session:
        row = session.get(Wallet, tenant_id)
        assert row is not None
        session.expunge(row)
        return row


def token_row(engine: Engine, token: str) -> EnableToken:
    with session_scope(engine) as session:
        row = session.get(EnableToken, enablement.hash_secret(token))
        assert row is not None
        session.expunge(row)
        return row


def bindings(engine: Engine, tenant_id: str) -> list[KeyBinding]:
    with session_scope(engine) as session:
        rows = list(session.exec(select(KeyBinding).where(KeyBinding.tenant_id == tenant_id)))
        for row in rows:
            session.expunge(row)
        return rows


def audit_actions(engine: Engine, tenant_id: str) -> Counter[str]:
    with session_scope(engine) as session:
        assert audit.verify(session, tenant_id).ok
        return Counter(e.action for e in session.exec(
            select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)))


def assert_refused(view: WalletView, engine: Engine, tenant_id: str, code: str,
                   *needles: str) -> None:
    """Error with the code, a message that names what to fix, and nothing frozen."""
    assert (view.state, view.error_code) == ("Error", code), (view.error_code, view.error_message)
    message = view.error_message or ""
    for needle in needles:
        assert needle.lower() in message.lower(), message
    row = wallet(engine, tenant_id)
    assert (row.state, row.error_code, row.error_message) == ("Error", code, message)
    assert row.key_arn is None and row.replica_key_arns == {}
    assert bindings(engine, tenant_id) == []
    counts = audit_actions(engine, tenant_id)
    assert counts["wallet.failed"] == 1 and counts["wallet.binding_frozen"] == 0
    assert counts["wallet.enabled"] == 0
    with session_scope(engine) as session:  # the token is void: it can never be used again
        assert all(t.voided_at is not None or t.used_at is not None for t in session.exec(
            select(EnableToken).where(EnableToken.tenant_id == tenant_id)))


def create_key(settings: Settings, region: str = "us-east-1", *, multi_region: bool = True,
               account: str = TENANT_ACCOUNT) -> dict[str, Any]:
    meta: dict[str, Any] = tenant_client(settings, "kms", region, account).create_key(
        MultiRegion=multi_region, Description="the tenant's own key")["KeyMetadata"]
    return meta


def trust_without_external_id(settings: Settings, role_name: str) -> str:
    """A role in the tenant account that trusts our service role with no ExternalId
    condition (the confused-deputy hole); returns its ARN."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": settings.service_role_arn}}]}
    iam = tenant_client(settings, "iam")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


@asynccontextmanager
async def private_time_skipping_env() -> AsyncIterator[Any]:
    """A time-skipping server of its own: skipping days here leaves the session's clock alone."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.testing import WorkflowEnvironment

    from byok.codec import data_converter
    from byok.settings import load_settings

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(VENV_BIN / "temporal-test-server"),
        data_converter=data_converter(load_settings().payload_keys))
    try:
        keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace="default",
            search_attributes={"TenantId": keyword, "WalletState": keyword}))
        yield env
    finally:
        await env.shutdown()


async def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Blocking AWS calls off the event loop the worker shares."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@asynccontextmanager
async def consuming(client: Any, engine: Engine, settings: Settings,
                    aws: Any) -> AsyncIterator[Any]:
    """The stack-callback consumer long-polling the queue, as `byok consumer` runs it. Its SQS
    client is made now: faults injected later into the service's STS leave it reading."""
    from control.consumer import CallbackConsumer

    consumer = CallbackConsumer(client, engine, settings, aws.service("sqs"))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, wait_seconds=1))
    try:
        yield consumer
    finally:
        stop.set()
        await task


async def until_delivered(engine: Engine, token: str, timeout: float = 60) -> None:
    """Until the consumer handed the stack's report to its workflow (the token is then used).
    Waiting here, not in result(): a time-skipping server would skip past the token's expiry
    while the request is still on its way through SNS and SQS."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while token_row(engine, token).used_at is None:
        if loop.time() > deadline:
            raise AssertionError("the stack's report never reached its workflow")
        await asyncio.sleep(0.2)
