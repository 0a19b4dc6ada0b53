"""Proven account connections with no Temporal: the request (token, ExternalId, per-tenant
role name), the connection stack's report, and the lookup every source read goes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from byok import audit, cfn, connection_template, crud
from byok.custom_resource import StackRequest
from byok.enablement import hash_secret, new_external_id, new_token
from byok.errors import Conflict, InvalidInput, Unauthorized
from byok.models import AwsConnection, Tenant, utcnow
from byok.settings import Settings

PENDING, VERIFIED, FAILED = "pending", "verified", "failed"
AWS_SCHEMES = ("s3", "dynamodb", "ebs")  # sources read inside the tenant's account


@dataclass
class Issued:
    """What the tenant needs to deploy the connection stack; the token is shown only here."""

    connection: AwsConnection
    token: str | None  # None: the account was verified already (regions were added)
    expires_at: datetime | None


def public(conn: AwsConnection, settings: Settings, token: str | None = None) -> dict[str, Any]:
    """The connection as the API, CLI and console show it, with what to do next."""
    out: dict[str, Any] = {
        "tenant_id": conn.tenant_id, "account_id": conn.account_id, "regions": conn.regions,
        "state": conn.state, "role_name": conn.role_name,
        "role_arn": settings.role_arn(conn.account_id, conn.role_name) if conn.role_name else "",
        "external_id": conn.external_id, "error_message": conn.error_message,
        "created_at": conn.created_at, "verified_at": conn.verified_at,
        "token_expires_at": conn.token_expires_at,
        "template_url": connection_template.url(settings),
        "stack_name": connection_template.stack_name_for(conn.tenant_id),
        "service_account_id": settings.service_account_id,
        "token": token, "deployment_url": None,
    }
    if token:
        out["deployment_url"] = connection_template.deployment_url(
            settings, tenant_id=conn.tenant_id, role_name=conn.role_name,
            external_id=conn.external_id, token=token)
    out["next_step"] = _next_step(conn, token)
    return out


def _next_step(conn: AwsConnection, token: str | None) -> str:
    if conn.state == VERIFIED:
        return "connected: backups may read this account"
    if token:
        return (f"deploy the connection stack in account {conn.account_id} (quick-create link, "
                "or the template URL with RoleName, ExternalId and this token); the connection "
                "is usable once the stack completes")
    return "connect the account again to get a new token, then deploy the connection stack"


def request(session: Session, settings: Settings, *, tenant: Tenant, account_id: str,
            regions: list[str], actor: str) -> Issued:
    """Ask to connect an account (or add regions to a verified one). Nothing is usable until
    the account's stack proves it: a new request issues a new token and voids the last."""
    account_id = crud.validate_account_id(account_id, "account_id")
    regions = crud.validate_regions(regions)
    if account_id == settings.service_account_id:
        raise InvalidInput(f"account {account_id} is byok-vault's own account and can never be "
                           "connected", field="account_id", code="SERVICE_ACCOUNT")
    conn = _find(session, tenant.id, account_id)
    if conn is not None and conn.state == VERIFIED:
        conn.regions = list(dict.fromkeys([*conn.regions, *regions]))
        session.add(conn)
        session.flush()
        audit.append(session, tenant_id=tenant.id, actor=actor, action="connection.saved",
                     details={"account_id": account_id, "regions": conn.regions})
        return Issued(conn, None, None)
    if conn is None:
        conn = AwsConnection(tenant_id=tenant.id, account_id=account_id, regions=regions)
    else:
        conn.regions = list(dict.fromkeys([*conn.regions, *regions]))
    token = new_token()
    conn.state, conn.error_message, conn.verified_at = PENDING, None, None
    conn.role_name = connection_template.role_name_for(tenant.id)
    conn.external_id = conn.external_id or new_external_id(session)
    conn.token_hash = hash_secret(token)
    conn.token_expires_at = utcnow() + timedelta(days=settings.token_ttl_days)
    session.add(conn)
    session.flush()
    audit.append(session, tenant_id=tenant.id, actor=actor, action="connection.requested",
                 details={"account_id": account_id, "regions": conn.regions,
                          "role_name": conn.role_name,
                          "expires_at": conn.token_expires_at.isoformat()})
    return Issued(conn, token, conn.token_expires_at)


def _find(session: Session, tenant_id: str, account_id: str) -> AwsConnection | None:
    return session.exec(select(AwsConnection).where(
        AwsConnection.tenant_id == tenant_id, AwsConnection.account_id == account_id)).first()


def by_token(session: Session, token: str) -> AwsConnection | None:
    if len(token) != cfn.TOKEN_LENGTH:
        return None
    return session.exec(select(AwsConnection).where(
        AwsConnection.token_hash == hash_secret(token))).first()


def accept_report(session: Session, settings: Settings,
                  request: StackRequest) -> tuple[AwsConnection, str]:
    """Check a connection stack's Create/Update report against what was issued; returns the
    connection and the role ARN to prove. Refusals name what is wrong (the tenant reads them
    in the stack's events)."""
    props = request.properties
    conn = by_token(session, props.get("token", ""))
    if conn is None:
        raise Unauthorized("unknown or malformed connection token", field="token")
    if conn.state != VERIFIED and conn.token_expires_at and conn.token_expires_at <= utcnow():
        raise Unauthorized(f"this token expired at {conn.token_expires_at:%Y-%m-%d %H:%M} UTC; "
                           "connect the account again", field="token")
    # The StackId is CloudFormation's, not the tenant's: it names the account really used.
    for where, account in (("runs in", request.account_id),
                           ("reports", props.get("account_native_id", ""))):
        if account != conn.account_id:
            raise Unauthorized(f"the stack {where} account {account or '(none)'}, but the token "
                               f"was issued for account {conn.account_id}",
                               field="account_native_id")
    expected = settings.role_arn(conn.account_id, conn.role_name)
    if props.get("role_arn") != expected:
        raise InvalidInput(f"the stack's role is {props.get('role_arn') or '(none)'}, but the "
                           f"connection's role must be {expected}: keep the RoleName we issued",
                           field="role_arn")
    if props.get("role_external_id") != conn.external_id:
        raise InvalidInput("the stack's ExternalId is not the one issued for this connection; "
                           "keep the ExternalId we issued", field="role_external_id")
    return conn, expected


def mark(session: Session, conn: AwsConnection, *, ok: bool, reason: str = "") -> None:
    if ok and conn.state == VERIFIED:
        return  # a redelivered report: verified once
    conn.state = VERIFIED if ok else FAILED
    conn.error_message = None if ok else reason[:2000]
    conn.verified_at = utcnow() if ok else None
    session.add(conn)
    audit.append(session, tenant_id=conn.tenant_id, actor="stack",
                 action="connection.verified" if ok else "connection.failed",
                 details={"account_id": conn.account_id, "role_name": conn.role_name,
                          **({} if ok else {"reason": reason})})


@dataclass
class SourceAccess:
    account_id: str
    role_arn: str
    external_id: str


def verified_for(session: Session, *, tenant_id: str, region: str) -> AwsConnection:
    """The tenant's verified connection serving `region`; a clear refusal otherwise."""
    conns = [c for c in crud.connections(session, tenant_id=tenant_id) if region in c.regions]
    if not conns:
        raise InvalidInput(f"region {region} is not connected for this tenant", field="region")
    if conns[0].state != VERIFIED:  # verified ones come first
        raise Conflict(f"the connection of account {conns[0].account_id} is {conns[0].state}, "
                       "not verified: deploy its connection stack first",
                       code="CONNECTION_NOT_VERIFIED", field="region")
    return conns[0]


def source_access(session: Session, settings: Settings, *, tenant_id: str,
                  region: str) -> SourceAccess:
    """The role and ExternalId to read the tenant's data in `region` with. Read from the
    database each time: the worker trusts no account or role it is handed."""
    conn = verified_for(session, tenant_id=tenant_id, region=region)
    if conn.account_id == settings.service_account_id:  # never, whatever the database says
        raise Conflict("the service's own account is never read as a source",
                       code="SERVICE_ACCOUNT")
    return SourceAccess(conn.account_id, settings.role_arn(conn.account_id, conn.role_name),
                        conn.external_id)
