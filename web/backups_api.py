"""Backups and restores in the tenant's JSON API: list, look up, start (202, not waiting)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from control import catalog
from control.backups import start_backup
from control.restores import start_restore
from control.uploads import receive_upload
from web import schemas, schemas_backups
from web.auth import TenantCaller, deny
from web.deps import EngineDep, LazyTemporalDep, SettingsDep

E = schemas.ErrorOut
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": E, "description": "Missing, unknown or revoked API key."},
    404: {"model": E, "description": "Not found (also: not the caller's)."},
    422: {"model": E, "description": "Bad input; `field` names the culprit."},
}
router = APIRouter(responses=ERRORS, tags=["backups"])


@router.get("/backups", response_model=list[schemas_backups.BackupOut],
            summary="The caller's backups, newest first, with their state")
def backups_list(caller: TenantCaller, engine: EngineDep) -> Any:
    return catalog.list_backups(engine, caller.tenant_id)


@router.post("/backups", response_model=schemas_backups.BackupStartedOut, status_code=202,
             summary="Start a backup; returns at once (GET /backups/{id} answers once the "
                     "workflow has recorded it, moments later)",
             responses={409: {"model": E, "description": "Backups in that region are paused "
                                                         "while the key there is not Healthy."}})
async def backups_start(body: schemas_backups.BackupIn, caller: TenantCaller,
                        engine: EngineDep, settings: SettingsDep,
                        temporal: LazyTemporalDep) -> Any:
    return await start_backup(engine, settings, temporal, tenant=caller.tenant_id,
                              workload=body.workload, source=body.source, region=body.region,
                              actor=caller.actor, as_tenant=True)


@router.post("/uploads", response_model=schemas_backups.UploadOut, status_code=201,
             summary="Upload a file to back up: the raw body (application/octet-stream), "
                     "streamed to disk; returns its `file://` source",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string",
                                                         "format": "binary"}}}}},
             responses={413: {"model": E, "description": "Over BYOK_UPLOAD_MAX_BYTES; "
                                                         "nothing is kept."}})
async def uploads_create(request: Request, caller: TenantCaller, engine: EngineDep,
                         settings: SettingsDep,
                         name: str | None = Query(None, max_length=200, description=(
                             "A name to keep (sanitized: letters, digits, `._-`)."))) -> Any:
    length = request.headers.get("content-length", "")
    return await receive_upload(engine, settings, tenant_id=caller.tenant_id, name=name,
                                chunks=request.stream(),
                                declared=int(length) if length.isdigit() else None,
                                actor=caller.actor)


@router.get("/backups/{backup_id}", response_model=schemas_backups.BackupOut,
            summary="One of the caller's backups")
def backups_get(backup_id: str, caller: TenantCaller, engine: EngineDep) -> Any:
    row = catalog.get_backup(engine, caller.tenant_id, backup_id)
    if row is None:
        raise deny(engine, caller, "backup", backup_id)
    return row


@router.get("/restores", response_model=list[schemas_backups.RestoreOut],
            summary="The caller's restores, newest first")
def restores_list(caller: TenantCaller, engine: EngineDep) -> Any:
    return catalog.list_restores(engine, caller.tenant_id)


@router.post("/restores", response_model=schemas_backups.RestoreStartedOut, status_code=202,
             summary="Restore a complete backup into the server's restores folder",
             responses={409: {"model": E, "description": "The backup is not complete or is "
                                                         "irretrievable, or the target exists "
                                                         "(pass force)."}})
async def restores_start(body: schemas_backups.RestoreIn, caller: TenantCaller,
                         engine: EngineDep, settings: SettingsDep,
                         temporal: LazyTemporalDep) -> Any:
    if catalog.get_backup(engine, caller.tenant_id, body.backup_id) is None:
        raise deny(engine, caller, "backup", body.backup_id)
    return await start_restore(engine, settings, temporal, tenant=caller.tenant_id,
                               backup_id=body.backup_id, target=body.target, force=body.force,
                               actor=caller.actor, as_tenant=True)


@router.get("/restores/{restore_id}", response_model=schemas_backups.RestoreOut,
            summary="One of the caller's restores")
def restores_get(restore_id: str, caller: TenantCaller, engine: EngineDep) -> Any:
    row = catalog.get_restore(engine, caller.tenant_id, restore_id)
    if row is None:
        raise deny(engine, caller, "restore", restore_id)
    return row
