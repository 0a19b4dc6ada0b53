"""Backups and restores in the tenant's JSON API: list, look up, start (202, not waiting)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from byok.db import session_scope
from web import schemas, schemas_backups, services
from web.auth import TenantCaller, deny
from web.deps import EngineDep, LazyTemporalDep, SessionDep, SettingsDep

E = schemas.ErrorOut
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": E, "description": "Missing, unknown or revoked API key."},
    404: {"model": E, "description": "Not found (also: not the caller's)."},
    422: {"model": E, "description": "Bad input; `field` names the culprit."},
}
router = APIRouter(responses=ERRORS, tags=["backups"])


@router.get("/backups", response_model=list[schemas_backups.BackupOut],
            summary="The caller's backups, newest first, with their state")
def backups_list(caller: TenantCaller, session: SessionDep) -> Any:
    return services.list_backups(session, caller.tenant_id)


@router.post("/backups", response_model=schemas_backups.BackupStartedOut, status_code=202,
             summary="Start a backup; returns at once (GET /backups/{id} answers once the "
                     "workflow has recorded it, moments later)",
             responses={409: {"model": E, "description": "Backups in that region are paused "
                                                         "while the key there is not Healthy."}})
async def backups_start(body: schemas_backups.BackupIn, caller: TenantCaller,
                        engine: EngineDep, settings: SettingsDep,
                        temporal: LazyTemporalDep) -> Any:
    return await services.start_backup(engine, settings, temporal, tenant_id=caller.tenant_id,
                                       workload=body.workload, source=body.source,
                                       region=body.region, actor=caller.actor)


@router.get("/backups/{backup_id}", response_model=schemas_backups.BackupOut,
            summary="One of the caller's backups")
def backups_get(backup_id: str, caller: TenantCaller, session: SessionDep,
                engine: EngineDep) -> Any:
    row = services.get_backup(session, caller.tenant_id, backup_id)
    if row is None:
        raise deny(engine, caller, "backup", backup_id)
    return row


@router.get("/restores", response_model=list[schemas_backups.RestoreOut],
            summary="The caller's restores, newest first")
def restores_list(caller: TenantCaller, session: SessionDep) -> Any:
    return services.list_restores(session, caller.tenant_id)


@router.post("/restores", response_model=schemas_backups.RestoreStartedOut, status_code=202,
             summary="Restore a complete backup into the server's restores folder",
             responses={409: {"model": E, "description": "The backup is not complete or is "
                                                         "irretrievable, or the target exists "
                                                         "(pass force)."}})
async def restores_start(body: schemas_backups.RestoreIn, caller: TenantCaller,
                         engine: EngineDep, settings: SettingsDep,
                         temporal: LazyTemporalDep) -> Any:
    # No SessionDep in async routes: it holds SQLite's unit lock in another thread.
    with session_scope(engine) as session:
        mine = services.get_backup(session, caller.tenant_id, body.backup_id) is not None
    if not mine:
        raise deny(engine, caller, "backup", body.backup_id)
    return await services.start_restore(engine, settings, temporal, tenant_id=caller.tenant_id,
                                        backup_id=body.backup_id, target=body.target,
                                        force=body.force, actor=caller.actor)


@router.get("/restores/{restore_id}", response_model=schemas_backups.RestoreOut,
            summary="One of the caller's restores")
def restores_get(restore_id: str, caller: TenantCaller, session: SessionDep,
                 engine: EngineDep) -> Any:
    row = services.get_restore(session, caller.tenant_id, restore_id)
    if row is None:
        raise deny(engine, caller, "restore", restore_id)
    return row
