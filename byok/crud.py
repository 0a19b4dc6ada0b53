"""CRUD for tenants and the lookup of their AWS connections (byok.connections makes
them); every function validates before it writes."""

from __future__ import annotations

import re
import secrets

from sqlmodel import Session, select

from byok import audit
from byok.errors import Conflict, InvalidInput, NotFound
from byok.models import AwsConnection, Tenant
from byok.regions import AWS_REGIONS

ACCOUNT_RE = re.compile(r"^\d{12}$")
TENANT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


def validate_account_id(account_id: str, field: str = "account") -> str:
    account_id = account_id.strip()
    if not ACCOUNT_RE.match(account_id):
        what = "digits only" if not account_id.isdigit() else f"{len(account_id)} digits"
        raise InvalidInput(
            f"AWS account id must be exactly 12 digits (got {account_id!r}: {what})", field=field
        )
    return account_id


def validate_regions(regions: list[str], field: str = "regions") -> list[str]:
    clean = [r.strip() for r in regions if r.strip()]
    if not clean:
        raise InvalidInput("at least one region is required", field=field)
    unknown = [r for r in clean if r not in AWS_REGIONS]
    if unknown:
        raise InvalidInput(f"unknown AWS region(s): {', '.join(unknown)}", field=field)
    return sorted(set(clean), key=clean.index)


def create_tenant(session: Session, *, name: str, actor: str = "operator") -> Tenant:
    name = name.strip()
    if not TENANT_NAME_RE.match(name):
        raise InvalidInput(
            "tenant name must be 1-64 characters of letters, digits, space, '.', '_' or '-', "
            "starting with a letter or digit", field="name")
    if session.exec(select(Tenant).where(Tenant.name == name)).first():
        raise Conflict(f"a tenant named {name!r} already exists", field="name")
    tenant = Tenant(id="tn-" + secrets.token_hex(8), name=name)
    session.add(tenant)
    session.flush()
    audit.append(session, tenant_id=tenant.id, actor=actor, action="tenant.created",
                 details={"name": name})
    return tenant


def get_tenant(session: Session, *, ref: str) -> Tenant:
    """Find a tenant by id or by name."""
    tenant = session.get(Tenant, ref) or session.exec(
        select(Tenant).where(Tenant.name == ref)).first()
    if tenant is None:
        raise NotFound(f"no tenant {ref!r}", field="tenant")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(Tenant.name)).all())


def connections(session: Session, *, tenant_id: str) -> list[AwsConnection]:
    """Every connection of the tenant, verified ones first (byok.connections requests them;
    only a verified one is read from)."""
    rows = session.exec(select(AwsConnection).where(AwsConnection.tenant_id == tenant_id)).all()
    return sorted(rows, key=lambda c: c.state != "verified")


def connected_regions(session: Session, *, tenant_id: str, account_id: str) -> list[str]:
    for conn in connections(session, tenant_id=tenant_id):
        if conn.account_id == account_id:
            return list(conn.regions)
    return []
