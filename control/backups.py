"""Backups: checked, started (or run to the end), listed with the key each depends on."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

from sqlalchemy.engine import Engine
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from byok import backups, crud, health
from byok.db import session_scope
from byok.errors import ByokError, Conflict, InvalidInput, NotFound, error_class
from byok.messages import BackupInput
from byok.models import Backup, Restore
from byok.settings import Settings
from byok.sources import Source, file_source, safe_name
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
    handle, inp, _ = await _start(engine, settings, temporal, **request)
    await recorded(engine, Backup, inp.backup_id)
    return {"backup_id": inp.backup_id, "workflow_id": handle.id}


async def run_backup(engine: Engine, settings: Settings, temporal: Temporal,
                     **request: Unpack[BackupRequest]) -> dict[str, Any]:
    """Run a backup (see `_start`) to its end: the finished backup, or our error."""
    handle, inp, staged = await _start(engine, settings, temporal, **request)
    try:
        await result(handle)
    except ByokError:  # the workflow ended (failed): the staged file has served too
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    if staged is not None:  # the operator's link or copy has served (kept on cancellation)
        staged.unlink(missing_ok=True)
    return backup_view(engine, inp.tenant_id, inp.backup_id)


def stage_server_file(settings: Settings, tenant_id: str, source: Source) -> Path:
    """The operator's path to back up a file of the server's: linked (or, across devices,
    copied, mode 0600) into the tenant's uploads, where the worker accepts file sources. Only
    the CLI takes it; the API never does, and a workflow started directly gets no such help."""
    path = source.path
    if not path.is_file():
        raise NotFound(f"source file {path} does not exist or is not a regular file",
                       field="source")
    folder = backups.uploads_dir(settings, tenant_id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    staged = folder / f"{backups.new_id('server')}-{safe_name(path.name)}"
    try:
        os.link(path, staged)
    except OSError:  # another file system, or a file the linking rules protect
        with path.open("rb") as src, os.fdopen(os.open(
                staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600),
                "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return staged


async def _start(engine: Engine, settings: Settings, temporal: Temporal, *, tenant: str,
                 workload: str, source: str, region: str | None, actor: str,
                 backup_id: str | None = None,
                 as_tenant: bool = False) -> tuple[Any, BackupInput, Path | None]:
    """Check the request (and that backups in the region are not paused), then start
    BackupWorkflow, whose id derives from the backup id: one run per backup.
    `as_tenant`: the caller is the tenant (the web app), who may back up only its own uploads;
    the operator (the CLI) may name any file, which is staged into the tenant's uploads first
    (`stage_server_file`): the worker itself reads nothing else."""
    region = region or settings.control_plane_region
    staged = None
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        inp = BackupInput(t.id, backup_id or backups.new_id("bk"), workload, source, region,
                          actor)
        parsed = backups.validate_backup(session, inp)
        if parsed.kind == "file":
            try:
                backups.tenant_file(settings, t.id, parsed)
            except InvalidInput:
                if as_tenant:
                    raise
                staged = stage_server_file(settings, t.id, parsed)
                parsed = file_source(staged)
        inp = replace(inp, source=parsed.url)
        try:
            health.backup_gate(session, t.id, region)
            if parsed.kind == "file":  # a clear error now, not after a workflow started
                backups.open_tenant_file(settings, t.id, parsed).close()
        except BaseException as exc:
            if staged is not None:
                staged.unlink(missing_ok=True)
            if isinstance(exc, health.BackupsPaused):  # refused now, not in the workflow
                raise Conflict(exc.message, code=exc.code, field="region") from None
            raise
    handle = await (await temporal()).start_workflow(
        BackupWorkflow.run, inp, id=f"backup-{inp.backup_id}", task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        execution_timeout=policies.TRANSFER_RUN, search_attributes=tenant_attributes(t.id))
    return handle, inp, staged


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

