"""Connecting an AWS account: issue the connection token, then prove the account when its
connection stack reports through the callback queue, and answer the stack.

The proof runs in the queue consumer, not in a workflow: it is one short, idempotent step
(a few STS calls) driven by an at-least-once SQS message, and the only wait, for the stack, is
held by the database (the pending row and its token's expiry). A failure before the answer
leaves the message to come back; a redelivery after it gets the same answer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy.engine import Engine

from byok import audit, connections, crud, stack_reply
from byok.aws import AwsClients
from byok.custom_resource import ReplyInput, StackRequest
from byok.db import session_scope
from byok.errors import ByokError
from byok.settings import Settings


def connect_account(engine: Engine, settings: Settings, *, tenant: str, account_id: str,
                    regions: list[str], actor: str) -> dict[str, Any]:
    """Ask to connect an account+regions; the result carries the token (shown only here), the
    ExternalId, the role name and the links to deploy the connection stack with."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        issued = connections.request(session, settings, tenant=t, account_id=account_id,
                                     regions=regions, actor=actor)
        return connections.public(issued.connection, settings, issued.token)


def list_connections(engine: Engine, settings: Settings, tenant: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return [connections.public(c, settings) for c in crud.connections(session,
                                                                          tenant_id=t.id)]


async def deliver(engine: Engine, settings: Settings, aws: AwsClients,
                  request: StackRequest) -> tuple[str | None, str, str]:
    """Verify a connection stack's request and answer it; returns (tenant, status, reason).
    Raises only for what is worth retrying (database, STS throttling, the ResponseURL)."""
    if request.request_type == "Delete":
        return await _deleted(engine, settings, request)
    tenant_id: str | None = None
    try:
        with session_scope(engine) as session:
            conn, role_arn = connections.accept_report(session, settings, request)
            tenant_id, external_id = conn.tenant_id, conn.external_id
        await asyncio.to_thread(aws.prove_role, role_arn, external_id,
                                settings.aws_consistency_seconds)
    except ByokError as exc:
        if exc.retryable:
            raise
        reason = exc.message
        if tenant_id is None:
            tenant_id = _tenant_of(engine, request)
        with session_scope(engine) as session:
            conn_row = connections.by_token(session, request.properties.get("token", ""))
            if conn_row is not None and conn_row.state != connections.VERIFIED:
                connections.mark(session, conn_row, ok=False, reason=reason)
            elif tenant_id:
                audit.append(session, tenant_id=tenant_id, actor="stack",
                             action="connection.report_refused",
                             details={"stack_account": request.account_id, "reason": reason},
                             event_key=f"connection-refused/{request.request_id}")
        await _answer(settings, request, "FAILED", reason)
        return tenant_id, "FAILED", reason
    with session_scope(engine) as session:
        row = connections.by_token(session, request.properties.get("token", ""))
        if row is not None:
            connections.mark(session, row, ok=True)
    await _answer(settings, request, "SUCCESS", "")
    return tenant_id, "SUCCESS", ""


def _tenant_of(engine: Engine, request: StackRequest) -> str | None:
    with session_scope(engine) as session:
        row = connections.by_token(session, request.properties.get("token", ""))
        return row.tenant_id if row else None


async def _deleted(engine: Engine, settings: Settings,
                   request: StackRequest) -> tuple[str | None, str, str]:
    """Always answered SUCCESS (a stack must stay deletable); a verified connection whose
    stack (and so role) is gone is no longer usable."""
    with session_scope(engine) as session:
        row = connections.by_token(session, request.properties.get("token", ""))
        tenant_id = row.tenant_id if row else None
        if row is not None and row.account_id == request.account_id and \
                row.state == connections.VERIFIED:
            connections.mark(session, row, ok=False,
                             reason="the connection stack was deleted; connect the account again")
    await _answer(settings, request, "SUCCESS", "")
    return tenant_id, "SUCCESS", ""


async def _answer(settings: Settings, request: StackRequest, status: str, reason: str) -> None:
    # A refused PUT: the stack stopped waiting, nothing left to tell it.
    with contextlib.suppress(stack_reply.ReplyRefused):
        await asyncio.to_thread(stack_reply.send, ReplyInput(request, status, reason),
                                local_endpoint=settings.aws_endpoint_url)
