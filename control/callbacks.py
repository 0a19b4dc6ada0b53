"""Deliver a stack's custom-resource request to its tenant's workflow, or answer it ourselves.

Acceptance (the token consumed) and delivery (the workflow holds the report) are one step: the
token row is committed only after the workflow's update returned, so a crash between the two
leaves the request to be delivered again, and a redelivery of the same request is accepted
again (same fingerprint, same update id)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from byok import audit, enablement, stack_reply
from byok.custom_resource import (
    ReplyInput,
    StackRequest,
    callback_payload,
    response_url_allowed,
)
from byok.db import session_scope
from byok.errors import ByokError, Conflict, NotFound
from byok.messages import StackCallback
from byok.models import EnableToken
from byok.settings import Settings
from workflows.enable_byok import EnableByokWorkflow

log = logging.getLogger(__name__)

UPDATE_TIMEOUT_SECONDS = 30  # well inside the queue's 60 s visibility timeout


@dataclass
class Outcome:
    """What became of one request: handed to a workflow, or answered here."""

    tenant_id: str | None
    delivered: bool
    answered: str = ""  # SUCCESS | FAILED when we answered it ourselves
    reason: str = ""


class _NotDelivered(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


async def hand_over(client: Client, workflow_id: str, callback: StackCallback,
                    update_id: str | None = None) -> None:
    """Update the waiting workflow; returns once it holds the report. NOT_FOUND (no such run,
    or it has finished) is raised as NotFound; a refusal by its validator as Conflict; any
    other error, or no worker answering in time (TimeoutError), propagates: retry later."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        # Bounded: with no worker up the update waits; the message then comes back later.
        await asyncio.wait_for(handle.execute_update(
            EnableByokWorkflow.deliver_stack_callback, callback, id=update_id),
            timeout=UPDATE_TIMEOUT_SECONDS)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise Conflict(str(getattr(cause, "message", cause)), code="CALLBACK_REFUSED") from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound("no enablement is waiting for this stack", code="NO_ENABLEMENT") \
                from None
        raise


def _public(request: StackRequest) -> StackRequest:
    # The token never crosses Temporal; the workflow needs only where and what to answer.
    props = {k: v for k, v in request.properties.items() if k != "token"}
    return dataclasses.replace(request, properties=props)


async def deliver(client: Client, engine: Engine, settings: Settings,
                  request: StackRequest) -> Outcome:
    """Route one request. Raises only for what is worth retrying (Temporal or the database
    unreachable, the ResponseURL failing): the message then comes back later."""
    if not response_url_allowed(request.response_url, settings.aws_endpoint_url):
        # Not from CloudFormation: never PUT to a URL a forger chose; nothing to answer.
        log.warning("dropped a stack request whose ResponseURL is not CloudFormation's")
        return Outcome(None, delivered=False, reason="ResponseURL not allowed")
    if request.request_type == "Delete":
        return await _answer_delete(engine, settings, request)
    payload: dict[str, Any] = callback_payload(request)
    tenant_id = _tenant_of(engine, str(payload.get("token") or ""))
    try:
        if payload.get("account_native_id") != request.account_id:
            raise _NotDelivered(f"the stack runs in account {request.account_id} but reports "
                                f"account {payload.get('account_native_id') or '(none)'}")
        with session_scope(engine) as session:
            try:
                row, callback, replayed = enablement.accept_callback(session, payload)
            except ByokError as exc:
                raise _NotDelivered(exc.message) from None
            workflow_id = row.workflow_id
            callback.source, callback.request = "queue", _public(request)
            try:
                await hand_over(client, workflow_id, callback, f"stack-{request.request_id}")
            except NotFound:
                if not replayed:
                    raise _NotDelivered("no enablement is waiting for this stack; start one "
                                        "and deploy with its new token") from None
                # Delivered before, and that run has finished: it answered already.
            except Conflict as exc:
                raise _NotDelivered(exc.message) from None
    except _NotDelivered as refusal:
        return await _refuse(engine, settings, request, tenant_id, refusal.reason)
    return Outcome(tenant_id, delivered=True)


def _tenant_of(engine: Engine, token: str) -> str | None:
    with session_scope(engine) as session:
        row = session.get(EnableToken, enablement.hash_secret(token)) if token else None
        return row.tenant_id if row else None


async def _reply(settings: Settings, request: StackRequest, status: str, reason: str) -> None:
    await asyncio.to_thread(stack_reply.send, ReplyInput(request, status, reason),
                            local_endpoint=settings.aws_endpoint_url)


async def _refuse(engine: Engine, settings: Settings, request: StackRequest,
                  tenant_id: str | None, reason: str) -> Outcome:
    """FAILED with the reason (the tenant reads it in the stack's events), audited; the
    refused request changed nothing else (its transaction was rolled back)."""
    details = {"request_type": request.request_type, "stack_account": request.account_id,
               "region": request.region, "reason": reason}
    if tenant_id:
        with session_scope(engine) as session:
            audit.append(session, tenant_id=tenant_id, actor="stack",
                         action="wallet.callback_refused", details=details,
                         event_key=f"callback-refused/{request.request_id}")
    else:
        log.warning("stack request refused (no tenant): %s", details)
    # Audited first (keyed: a retry records it once), then answered.
    # A refused PUT: the stack stopped waiting, nothing left to tell it.
    with contextlib.suppress(stack_reply.ReplyRefused):
        await _reply(settings, request, "FAILED", reason)
    return Outcome(tenant_id, delivered=False, answered="FAILED", reason=reason)


async def _answer_delete(engine: Engine, settings: Settings, request: StackRequest) -> Outcome:
    """A Delete is always answered SUCCESS: refusing it would leave the tenant a stack that
    can never be deleted. The binding, if any, is not touched (key health notices a lost
    role or key)."""
    tenant_id = _tenant_of(engine, request.properties.get("token", ""))
    if tenant_id:
        with session_scope(engine) as session:
            audit.append(session, tenant_id=tenant_id, actor="stack",
                         action="wallet.stack_deleted",
                         details={"stack_account": request.account_id,
                                  "region": request.region},
                         event_key=f"stack-deleted/{request.request_id}")
    with contextlib.suppress(stack_reply.ReplyRefused):
        await _reply(settings, request, "SUCCESS", "")
    return Outcome(tenant_id, delivered=False, answered="SUCCESS")
