"""Backups: checked, started (or run to the end), listed with the key each depends on."""

from __future__ import annotations

import asyncio
from typing import Any, Unpack

from sqlalchemy.engine import Engine
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from byok import backups, crud, health
from byok.db import session_scope
from byok.errors import Conflict, error_class
from byok.messages import BackupInput
from byok.models import Backup, Restore
from byok.settings import Settings
from byok.temporal import tenant_attributes
from control import Temporal
from control.catalog import backup_view
from control.results import BackupRequest, BackupStarted
from workflows import policies
from workflows.backup import BackupWorkflow


async def start_backup(engine: Engine, settings: Settings, temporal: Temporal,
                       **request: Unpack[BackupRequest]) -> BackupStarted:
    """Start a backup (see `_start`) and answer once the catalog row exists (a GET right after
    finds it), without waiting for the transfer."""
    handle, inp = await _start(engine, settings, temporal, **request)
    await recorded(engine, Backup, inp.backup_id)
    return {"backup_id": inp.backup_id, "workflow_id": handle.id}


async def run_backup(engine: Engine, settings: Settings, temporal: Temporal,
                     **request: Unpack[BackupRequest]) -> dict[str, Any]:
    """Run a backup (see `_start`) to its end: the finished backup, or our error."""
    handle, inp = await _start(engine, settings, temporal, **request)
    await result(handle)
    return backup_view(engine, inp.tenant_id, inp.backup_id)


async def _start(engine: Engine, settings: Settings, temporal: Temporal, *, tenant: str,
                 workload: str, source: str, region: str | None, actor: str,
                 backup_id: str | None = None, as_tenant: bool = False) -> tuple[Any, BackupInput]:
    """Check the request (and that backups in the region are not paused), then start
    BackupWorkflow, whose id derives from the backup id: one run per backup.
    `as_tenant`: the caller is the tenant (the web app), who may back up only its own uploads;
    the operator (the CLI) may name any file."""
    region = region or settings.control_plane_region
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        inp = BackupInput(t.id, backup_id or backups.new_id("bk"), workload, source, region,
                          actor)
        backups.validate_backup(session, inp)
        if as_tenant:
            backups.check_tenant_file(settings, t.id, source)
        try:
            health.backup_gate(session, t.id, region)
        except health.BackupsPaused as exc:  # refused now, not after a workflow started
            raise Conflict(exc.message, code=exc.code, field="region") from None
    handle = await (await temporal()).start_workflow(
        BackupWorkflow.run, inp, id=f"backup-{inp.backup_id}", task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        execution_timeout=policies.TRANSFER_RUN, search_attributes=tenant_attributes(t.id))
    return handle, inp


async def recorded(engine: Engine, model: type[Backup] | type[Restore], row_id: str,
                   timeout: float = 10.0) -> None:
    """Wait (briefly) for the workflow's first step to write the catalog row, so that a GET
    right after the 202 finds it; a slow worker only makes the caller poll instead."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with session_scope(engine) as session:
            if session.get(model, row_id) is not None:
                return
        await asyncio.sleep(0.05)


async def result(handle: Any) -> Any:
    """The workflow's result, or our error (type and code) when it failed."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        cause: BaseException | None = exc.cause
        if isinstance(cause, ActivityError):  # e.g. a refusal from the plan step
            cause = cause.cause
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details else {}
            code = details.get("code") if isinstance(details, dict) else None
            # Our own error class again (its `type` carried the name), so callers can tell.
            cls = error_class(cause.type or "")
            raise cls(cause.message, code=code or cause.type or "FAILED") from None
        raise

