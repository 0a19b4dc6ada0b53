"""Restores: checked (the target above all), started or run to the end, listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from sqlalchemy.engine import Engine

from byok import backups, crud
from byok.db import session_scope
from byok.errors import InvalidInput
from byok.messages import RestoreInput
from byok.models import Restore
from byok.settings import Settings
from byok.temporal import tenant_attributes
from control import Temporal
from control.backups import recorded, result
from control.results import RestoreDone, RestoreRequest, RestoreStarted
from workflows import policies
from workflows.restore import RestoreWorkflow


def restores_root(settings: Settings) -> Path:
    return (settings.home / "restores").resolve()


def confined_target(settings: Settings, backup_id: str, target: str | None) -> str:
    """A tenant's restore target, inside `<BYOK_HOME>/restores`: tenants never pick server
    paths."""
    root = restores_root(settings)
    try:
        path = (root / (target or backup_id)).resolve()  # an absolute target replaces root
    except (OSError, ValueError):
        raise InvalidInput("not a usable path", field="target") from None
    if path == root or root not in path.parents:
        raise InvalidInput(f"the target must be inside {root}", field="target")
    root.mkdir(parents=True, exist_ok=True)
    return str(path)


async def start_restore(engine: Engine, settings: Settings, temporal: Temporal,
                        **request: Unpack[RestoreRequest]) -> RestoreStarted:
    """Start a restore (see `_start`) and answer once the catalog row exists."""
    handle, inp = await _start(engine, settings, temporal, **request)
    await recorded(engine, Restore, inp.restore_id)
    return {"restore_id": inp.restore_id, "workflow_id": handle.id,
            "backup_id": inp.backup_id, "target": inp.target}


async def run_restore(engine: Engine, settings: Settings, temporal: Temporal,
                      **request: Unpack[RestoreRequest]) -> RestoreDone:
    """Run a restore (see `_start`) to its end: what was restored, or our error."""
    handle, inp = await _start(engine, settings, temporal, **request)
    done = await result(handle)
    return {"restore_id": inp.restore_id, "backup_id": inp.backup_id, "target": inp.target,
            "bytes": done.plaintext_size, "ok": done.ok}


async def _start(engine: Engine, settings: Settings, temporal: Temporal, *, tenant: str,
                 backup_id: str, target: str | None, force: bool, actor: str,
                 as_tenant: bool = False) -> tuple[Any, RestoreInput]:
    """Check the request, then start RestoreWorkflow. `as_tenant`: the caller is the tenant
    (the web app), whose restores land only in the restores folder (no target: a file named
    for the backup there)."""
    if as_tenant:
        target = confined_target(settings, backup_id, target)
    if not target:
        raise InvalidInput("name the file to restore to", field="target")
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        inp = RestoreInput(t.id, backups.new_id("rs"), backup_id, target, force, actor)
        try:
            backups.validate_restore(session, inp)
        except (OSError, ValueError):
            raise InvalidInput("not a usable path", field="target") from None
    handle = await (await temporal()).start_workflow(
        RestoreWorkflow.run, inp, id=f"restore-{inp.restore_id}", task_queue=settings.task_queue,
        execution_timeout=policies.TRANSFER_RUN, search_attributes=tenant_attributes(t.id))
    return handle, inp

