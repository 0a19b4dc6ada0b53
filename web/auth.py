"""Who is calling: tenant API keys and the operator key (Bearer), and audited refusals. A wrong
key is audited (never the key) and counted against its client: past the limit, 429."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from byok import apikeys, audit
from byok.db import session_scope
from byok.errors import NotFound, Unauthorized
from web.deps import EngineDep, SettingsDep
from web.ratelimit import client_of, limiter_of

tenant_bearer = HTTPBearer(auto_error=False, scheme_name="TenantApiKey",
                           description="A tenant API key: `Authorization: Bearer bvk_...`")
operator_bearer = HTTPBearer(auto_error=False, scheme_name="OperatorKey",
                             description="The operator key from settings (BYOK_OPERATOR_API_KEY).")


def auth_gate(request: Request) -> None:
    """Before checking a key: a client past its failure budget gets 429, not another guess."""
    limiter_of(request).check("auth", client_of(request), count=False)


def auth_failed(request: Request, engine: Engine, via: str) -> None:
    """Audit one failed authentication (the client and the route, never the key) in the
    service's own chain (it names no tenant), and count it against the client."""
    client = client_of(request)
    with session_scope(engine) as session:
        audit.append(session, tenant_id=audit.SYSTEM_TENANT, actor=f"client:{client}"[:200],
                     action="auth.failed", details={"via": via, "path": request.url.path})
    limiter_of(request).check("auth", client)


@dataclass(frozen=True)
class Caller:
    """An authenticated tenant; `actor` names the key (never the key itself) in audit events."""

    tenant_id: str
    key_id: str

    @property
    def actor(self) -> str:
        return f"apikey:{self.key_id}"


def caller_from_key(engine: Engine, key: str) -> Caller:
    with session_scope(engine) as session:
        row = apikeys.verify(session, key)
        return Caller(row.tenant_id, row.id)


def tenant_caller(request: Request, engine: EngineDep, creds: Annotated[
        HTTPAuthorizationCredentials | None, Depends(tenant_bearer)]) -> Caller:
    if creds is None:
        raise Unauthorized("send a tenant API key as `Authorization: Bearer <key>`",
                           field="authorization")
    auth_gate(request)
    try:
        return caller_from_key(engine, creds.credentials)
    except Unauthorized:
        auth_failed(request, engine, "tenant_key")
        raise


def operator_caller(request: Request, settings: SettingsDep, engine: EngineDep, creds: Annotated[
        HTTPAuthorizationCredentials | None, Depends(operator_bearer)]) -> str:
    refusal = Unauthorized("this operation needs the operator key as `Authorization: Bearer`",
                           field="authorization")
    if creds is None:
        raise refusal
    auth_gate(request)
    if not secrets.compare_digest(creds.credentials.encode(), settings.operator_api_key.encode()):
        auth_failed(request, engine, "operator_key")
        raise refusal
    return "operator"


def deny(engine: Engine, caller: Caller, resource: str, ref: str, **extra: Any) -> NotFound:
    """Record an attempt on something not the caller's, in the caller's own chain.

    Missing and foreign look the same (404, same audit details) so neither the answer nor the
    caller's own audit history reveals that another tenant's object exists.
    """
    with session_scope(engine) as session:
        audit.append(session, tenant_id=caller.tenant_id, actor=caller.actor,
                     action="access.denied",
                     details={"resource": resource, "ref": ref[:100], **extra})
    return NotFound(f"no {resource} {ref[:100]!r}", field=f"{resource}_id")


TenantCaller = Annotated[Caller, Depends(tenant_caller)]
OperatorCaller = Annotated[str, Depends(operator_caller)]
