"""Restores: checked (the target above all), started or run to the end, listed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Unpack

from sqlalchemy.engine import Engine

from byok import backups, crud
from byok.db import session_scope
from byok.errors import Conflict, InvalidInput
from byok.messages import RestoreInput
from byok.models import Restore
from byok.settings import Settings
from byok.sources import safe_name
from byok.temporal import tenant_attributes
from control import Temporal
from control.backups import recorded, result
from control.results import RestoreDone, RestoreRequest, RestoreStarted
from workflows import policies
from workflows.restore import RestoreWorkflow


def restores_root(settings: Settings, tenant_id: str) -> Path:
    return backups.restores_dir(settings, tenant_id)


def confined_target(settings: Settings, tenant_id: str, backup_id: str,
                    target: str | None) -> str:
    """A tenant's restore target: a name (or path) inside its own restores folder, checked
    by its text alone (`backups.restore_spot`); no target: a file named for the backup."""
    name = target or backup_id
    root = restores_root(settings, tenant_id)
    full = name if name.startswith("/") else f"{root}/{name}"
    backups.restore_spot(settings, tenant_id, full, create=True).close()
    return full


async def start_restore(engine: Engine, settings: Settings, temporal: Temporal,
                        **request: Unpack[RestoreRequest]) -> RestoreStarted:
    """Start a restore (see `_start`) and answer once the catalog row exists."""
    handle, inp, _ = await _start(engine, settings, temporal, **request)
    await recorded(engine, Restore, inp.restore_id)
    return {"restore_id": inp.restore_id, "workflow_id": handle.id,
            "backup_id": inp.backup_id, "target": inp.target}


async def run_restore(engine: Engine, settings: Settings, temporal: Temporal,
                      **request: Unpack[RestoreRequest]) -> RestoreDone:
    """Run a restore (see `_start`) to its end: what was restored, or our error."""
    handle, inp, final = await _start(engine, settings, temporal, **request)
    done = await result(handle)
    if final is not None:
        deliver(Path(inp.target), final, inp.force)
    return {"restore_id": inp.restore_id, "backup_id": inp.backup_id,
            "target": str(final or inp.target), "bytes": done.plaintext_size, "ok": done.ok}


def _server_target(target: str | None, force: bool) -> Path:
    if not target:
        raise InvalidInput("name the file to restore to", field="target")
    final = Path(target)
    if not final.parent.is_dir():
        raise InvalidInput(f"the folder {final.parent} does not exist", field="target")
    if final.exists() and not force:
        raise Conflict(f"{final} already exists; pass --force to replace it", field="target")
    return final


def deliver(staged: Path, final: Path, force: bool) -> None:
    """The operator's restore, verified in the tenant's restores folder, moved to the path
    the operator named (the worker itself writes nowhere else)."""
    if final.exists() and not force:
        raise Conflict(f"{final} appeared meanwhile; the restore is at {staged}",
                       field="target")
    shutil.move(staged, final)  # a rename on one file system


async def _start(engine: Engine, settings: Settings, temporal: Temporal, *, tenant: str,
                 backup_id: str, target: str | None, force: bool, actor: str,
                 as_tenant: bool = False) -> tuple[Any, RestoreInput, Path | None]:
    """Check the request, then start RestoreWorkflow. `as_tenant`: the caller is the tenant
    (the web app), whose restores land only in its restores folder (no target: a file named
    for the backup there). The operator (the CLI) may name any path: the worker restores into
    the tenant's folder all the same, and run_restore moves the verified file there."""
    final = None
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        restore_id = backups.new_id("rs")
        if as_tenant:
            target = confined_target(settings, t.id, backup_id, target)
        else:
            final = _server_target(target, force)
            target = f"{restores_root(settings, t.id)}/{restore_id}-{safe_name(final.name)}"
        inp = RestoreInput(t.id, restore_id, backup_id, target, force, actor)
        backups.validate_restore(session, inp)
        with backups.restore_spot(settings, t.id, target, create=True) as spot:
            spot.check_writable(force)
    handle = await (await temporal()).start_workflow(
        RestoreWorkflow.run, inp, id=f"restore-{inp.restore_id}", task_queue=settings.task_queue,
        execution_timeout=policies.TRANSFER_RUN, search_attributes=tenant_attributes(t.id))
    return handle, inp, final

