"""Operator endpoints (the service itself, with the operator key): tenants, keys, accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from control import connections, tenants
from web import schemas
from web.auth import OperatorCaller
from web.deps import EngineDep, SettingsDep

E = schemas.ErrorOut
router = APIRouter(tags=["operator"], responses={
    401: {"model": E, "description": "Missing or wrong operator key."},
    404: {"model": E, "description": "No such tenant."},
    409: {"model": E, "description": "Duplicate tenant name."},
    422: {"model": E, "description": "Bad input; `field` names the culprit."},
})


@router.post("/tenants", response_model=schemas.TenantOut, status_code=201,
             summary="Create a tenant (operator)")
def tenant_create(body: schemas.TenantIn, actor: OperatorCaller, engine: EngineDep) -> Any:
    return tenants.create_tenant(engine, name=body.name, actor=actor)


@router.post("/tenants/{tenant_id}/api-keys", response_model=schemas.ApiKeyIssuedOut,
             status_code=201, summary="Issue an API key to a tenant (operator; shown once)")
def api_key_issue(tenant_id: str, actor: OperatorCaller, engine: EngineDep,
                  body: schemas.ApiKeyIn | None = None) -> Any:
    issued = tenants.create_api_key(engine, tenant=tenant_id,
                                    name=body.name if body else "default", actor=actor)
    return {**issued.row.model_dump(), "key": issued.key}


@router.post("/tenants/{tenant_id}/connections", response_model=schemas.ConnectionOut,
             status_code=201, summary="Connect an AWS account to a tenant (operator)")
def connection_add(tenant_id: str, body: schemas.ConnectionIn, actor: OperatorCaller,
                   engine: EngineDep, settings: SettingsDep) -> Any:
    """Pending until the account's connection stack proves it (as for the tenant's route)."""
    return connections.connect_account(engine, settings, tenant=tenant_id,
                                       account_id=body.account_id, regions=body.regions,
                                       actor=actor)
