"""The tenant's JSON API under /api/v1: every query is scoped to the caller's tenant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from byok.errors import NotFound
from control import connections, tenants
from control.checks import refresh_wallet
from control.enablement import start_enable, start_migration
from control.wallet import wallet_view
from web import schemas
from web.auth import TenantCaller, deny
from web.deps import EngineDep, LazyTemporalDep, SettingsDep
from web.ratelimit import LimiterDep
from web.schemas_health import HealthOut

E = schemas.ErrorOut
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": E, "description": "Missing, unknown or revoked API key."},
    404: {"model": E, "description": "Not found (also: not the caller's)."},
    422: {"model": E, "description": "Bad input; `field` names the culprit."},
}
router = APIRouter(responses=ERRORS)


@router.get("/tenants/me", tags=["tenants"], response_model=schemas.TenantOut,
            summary="The caller's tenant")
def tenant_me(caller: TenantCaller, engine: EngineDep) -> Any:
    return tenants.get_tenant(engine, caller.tenant_id)


@router.get("/tenants/{tenant_id}", tags=["tenants"], response_model=schemas.TenantOut,
            summary="A tenant (only the caller's own)")
def tenant_get(tenant_id: str, caller: TenantCaller, engine: EngineDep) -> Any:
    if tenant_id != caller.tenant_id:
        raise deny(engine, caller, "tenant", tenant_id)
    return tenants.get_tenant(engine, caller.tenant_id)


@router.get("/connections", tags=["connections"], response_model=list[schemas.ConnectionOut],
            summary="The caller's AWS accounts: pending, verified or failed, and what to do")
def connections_list(caller: TenantCaller, engine: EngineDep, settings: SettingsDep) -> Any:
    return connections.list_connections(engine, settings, caller.tenant_id)


@router.post("/connections", tags=["connections"], response_model=schemas.ConnectionOut,
             status_code=201,
             summary="Ask to connect an AWS account (or add regions to a verified one)",
             description="Returns the token (shown only here), the ExternalId, the role name "
             "and the quick-create link of the connection stack. The connection is `pending` "
             "until the stack, deployed in that account, reports back and its role is proven; "
             "only a `verified` connection is read from.")
def connections_add(body: schemas.ConnectionIn, caller: TenantCaller, engine: EngineDep,
                    settings: SettingsDep) -> Any:
    return connections.connect_account(engine, settings, tenant=caller.tenant_id,
                                       account_id=body.account_id, regions=body.regions,
                                       actor=caller.actor)


@router.get("/api-keys", tags=["api keys"], response_model=list[schemas.ApiKeyOut],
            summary="The caller's API keys (never the secrets)")
def api_keys_list(caller: TenantCaller, engine: EngineDep) -> Any:
    return tenants.list_api_keys(engine, caller.tenant_id)


@router.delete("/api-keys/{key_id}", tags=["api keys"], response_model=schemas.ApiKeyOut,
               summary="Revoke one of the caller's API keys (at once, for good)")
def api_keys_revoke(key_id: str, caller: TenantCaller, engine: EngineDep) -> Any:
    try:
        return tenants.revoke_api_key(engine, tenant=caller.tenant_id, key_id=key_id,
                                      actor=caller.actor)
    except NotFound:  # another tenant's key looks like none at all, and is audited
        raise deny(engine, caller, "api_key", key_id) from None


@router.get("/wallet", tags=["wallet"], response_model=schemas.WalletOut,
            summary="The caller's BYOK wallet")
def wallet_get(caller: TenantCaller, engine: EngineDep, settings: SettingsDep) -> Any:
    return wallet_view(engine, settings, caller.tenant_id)


@router.post("/wallet", tags=["wallet"], response_model=schemas.EnableIssuedOut,
             status_code=201, responses={409: {"model": E, "description": "Already enabled or "
                                               "an enablement is waiting."}},
             summary="Start BYOK enablement; the token is in this response only")
async def wallet_create(body: schemas.EnableIn, caller: TenantCaller, engine: EngineDep,
                        settings: SettingsDep, temporal: LazyTemporalDep) -> Any:
    issued = await start_enable(
        engine, settings, temporal, tenant=caller.tenant_id, account=body.account,
        accept_irretrievable=body.accept_irretrievable,
        accept_immutable=body.accept_immutable, actor=caller.actor)
    return issued.public()


@router.post("/wallet/_refresh", tags=["wallet"], response_model=schemas.WalletOut,
             summary="Check the caller's key now (every key and region) and return the wallet")
async def wallet_refresh(caller: TenantCaller, engine: EngineDep, settings: SettingsDep,
                         temporal: LazyTemporalDep, limiter: LimiterDep) -> Any:
    limiter.check("check", caller.tenant_id)
    return await refresh_wallet(engine, settings, temporal, caller.tenant_id)


@router.post("/wallets/{wallet_id}/_refresh", tags=["wallet"], response_model=schemas.WalletOut,
             summary="Re-check a wallet by id (the wallet id is the tenant id; own only)")
async def wallet_refresh_by_id(wallet_id: str, caller: TenantCaller, engine: EngineDep,
                               settings: SettingsDep, temporal: LazyTemporalDep,
                               limiter: LimiterDep) -> Any:
    if wallet_id != caller.tenant_id:
        raise deny(engine, caller, "wallet", wallet_id)
    limiter.check("check", caller.tenant_id)
    return await refresh_wallet(engine, settings, temporal, caller.tenant_id)


@router.post("/wallet/_migrate", tags=["wallet"], response_model=schemas.MigrationIssuedOut,
             status_code=202, summary="Upgrade a legacy (template v1) key to the multi-region "
                                      "key; the token is in this response only",
             responses={200: {"model": schemas.MigrationNoopOut,
                              "description": "Already on the current template."},
                        409: {"model": E, "description": "A migration is waiting, or the "
                                                         "legacy key is not healthy (code)."}})
async def wallet_migrate(caller: TenantCaller, engine: EngineDep, settings: SettingsDep,
                         temporal: LazyTemporalDep) -> Any:
    out = await start_migration(engine, settings, temporal,
                                tenant=caller.tenant_id, actor=caller.actor)
    if not out["migrated"]:
        return JSONResponse(schemas.MigrationNoopOut(**out).model_dump(), status_code=200)
    return out


@router.get("/health", tags=["health"], response_model=HealthOut,
            summary="Key health: per key and region, findings, blast radius, alerts")
def health(caller: TenantCaller, engine: EngineDep, settings: SettingsDep) -> Any:
    return wallet_view(engine, settings, caller.tenant_id)["health"]


@router.get("/audit", tags=["audit"], response_model=list[schemas.AuditEventOut],
            summary="The caller's audit history, oldest first")
def audit_history(caller: TenantCaller, engine: EngineDep,
                  limit: int = Query(1000, ge=1, le=1000)) -> Any:
    return tenants.audit_history(engine, caller.tenant_id, limit=limit)


@router.get("/audit/_verify", tags=["audit"], response_model=schemas.AuditVerifyOut,
            summary="Verify the caller's audit hash chain")
def audit_verify(caller: TenantCaller, engine: EngineDep) -> Any:
    return tenants.audit_verify(engine, caller.tenant_id).__dict__
