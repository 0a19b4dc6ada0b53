"""Enablement and migration: issue the token, start the workflow, deliver the stack's callback."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from byok import cfn, crud, enablement, migration
from byok.db import session_scope
from byok.errors import ByokError, Conflict, InvalidInput, NotFound
from byok.messages import EnableInput
from byok.models import Wallet
from byok.settings import Settings
from control import Temporal
from control.callbacks import hand_over
from control.results import CallbackAccepted
from workflows.enable_byok import EnableByokWorkflow
from workflows.migrate_byok import MigrateByokWorkflow

START_TIMEOUT = timedelta(seconds=10)  # a start that cannot get through fails, not hangs


async def start_enable(engine: Engine, settings: Settings, temporal: Temporal, *, tenant: str,
                       account: str, accept_irretrievable: bool, accept_immutable: bool,
                       actor: str) -> enablement.Issued:
    """Check the request and make the token, start the workflow that waits for the stack,
    and only then commit the token and the wallet: a start that fails (Temporal down, any
    RPC error, a run already waiting) leaves nothing behind. The token can reach no stack
    before this returns; the workflow's first step waits until the token is committed."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        issued = enablement.prepare(session, settings, t, account,
                                    accept_irretrievable=accept_irretrievable,
                                    accept_immutable=accept_immutable)
    client = await temporal()
    handle = await _start_stack_workflow(client, settings, EnableByokWorkflow.run, issued,
                                         actor, "an enablement", "ENABLE_IN_PROGRESS")
    try:
        with session_scope(engine) as session:
            enablement.record(session, issued, actor)
            wallet = session.get(Wallet, issued.tenant_id)
            if wallet:
                wallet.run_id = handle.result_run_id
                session.add(wallet)
    except BaseException:
        # Nothing was stored: the run must not wait for a token nobody has.
        with contextlib.suppress(Exception):
            await handle.terminate("the enablement could not be recorded")
        raise
    return issued


async def _start_stack_workflow(client: Any, settings: Settings, run: Any,
                                issued: enablement.Issued, actor: str, what: str,
                                code: str) -> Any:
    """Start the workflow that waits for this token's stack; one per tenant at a time."""
    inp = EnableInput(issued.tenant_id, issued.account_id, issued.expires_at.isoformat(),
                      settings.token_ttl_days * 86400, actor)
    try:
        return await client.start_workflow(
            run, inp, id=issued.workflow_id, task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL, rpc_timeout=START_TIMEOUT)
    except WorkflowAlreadyStartedError:
        raise Conflict(f"{what} is already running for this tenant", code=code) from None


async def deliver_callback(engine: Engine, temporal: Temporal,
                           payload: dict[str, Any]) -> CallbackAccepted:
    """Authenticate a report by its token and hand it to the waiting workflow (the HTTP
    route). The token is committed as used only once the workflow holds the report."""
    with session_scope(engine) as session:
        row, callback, replayed = enablement.accept_callback(session, payload)
        tenant_id, workflow_id = row.tenant_id, row.workflow_id
        try:
            await hand_over(await temporal(), workflow_id, callback)
        except NotFound:
            # Only a replay may find the run finished: it received this report before.
            if not replayed:
                raise
    return {"tenant_id": tenant_id, "accepted": True, "replayed": replayed}


async def start_migration(engine: Engine, settings: Settings, temporal: Temporal, *,
                          tenant: str, actor: str) -> dict[str, Any]:
    """Issue an upgrade token and start MigrateByokWorkflow; returns once the legacy key was
    found healthy, or `migrated: False` when there is nothing to migrate. A legacy key that is
    not healthy is a Conflict naming its finding, so the tenant learns it now."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        bound = enablement.binding(session, t.id)
    if bound is None:
        raise InvalidInput("BYOK is not enabled for this tenant; enable it instead",
                           field="tenant")
    if bound.template_version >= cfn.CURRENT_TEMPLATE_VERSION:
        return {"tenant_id": t.id, "migrated": False,
                "message": "already on the current template; nothing to migrate"}
    try:
        return await _migrate(engine, settings, temporal, t.id, actor)
    except (InvalidInput, NotFound, Conflict):
        raise
    except ByokError as exc:
        raise Conflict(exc.message, code=exc.code) from None


async def _migrate(engine: Engine, settings: Settings, temporal: Temporal, tenant_id: str,
                   actor: str) -> dict[str, Any]:
    client = await temporal()
    with session_scope(engine) as session:
        issued = migration.issue_upgrade(session, settings, crud.get_tenant(session,
                                                                            ref=tenant_id), actor)
    if issued is None:
        return {"tenant_id": tenant_id, "migrated": False,
                "message": "already on the current template; nothing to migrate"}
    try:
        handle = await _start_stack_workflow(client, settings, MigrateByokWorkflow.run, issued,
                                             actor, "a migration", "MIGRATION_IN_PROGRESS")
    except BaseException:
        with session_scope(engine) as session:  # the upgrade token was committed: void it
            enablement.void_token(session, issued.tenant_id)
        raise
    while True:
        view = await handle.query(MigrateByokWorkflow.wallet)
        if view.error_code:
            raise ByokError(view.error_message or "migration refused", code=view.error_code)
        if view.step != "checking_legacy_key":
            break
        await asyncio.sleep(0.2)
    return issued.public() | {"migrated": True}
