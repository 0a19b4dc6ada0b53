"""Tenants, their API keys and their audit history (connections: control/connections.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from byok import apikeys, audit, crud, offboard
from byok.audit_anchor import AnchorInvalid, AnchorStore, latest_anchor, write_anchor
from byok.db import audit_keys, session_scope
from byok.health_messages import schedule_id
from byok.models import ApiKey, AuditEvent, Tenant
from control import Temporal


def create_tenant(engine: Engine, *, name: str, actor: str) -> Tenant:
    with session_scope(engine) as session:
        return crud.create_tenant(session, name=name, actor=actor)


def list_tenants(engine: Engine) -> list[Tenant]:
    with session_scope(engine) as session:
        return crud.list_tenants(session)


def get_tenant(engine: Engine, tenant: str) -> Tenant:
    with session_scope(engine) as session:
        return crud.get_tenant(session, ref=tenant)


def create_api_key(engine: Engine, *, tenant: str, name: str,
                   actor: str) -> apikeys.IssuedKey:
    """A new API key; its secret is in the result only, the database keeps a hash."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return apikeys.create(session, tenant_id=t.id, name=name, actor=actor)


def list_api_keys(engine: Engine, tenant: str) -> list[ApiKey]:
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return apikeys.list_keys(session, tenant_id=t.id)


def revoke_api_key(engine: Engine, *, tenant: str, key_id: str, actor: str) -> ApiKey:
    """Revoke one of the tenant's keys at once; another tenant's key is not found."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return apikeys.revoke(session, tenant_id=t.id, key_id=key_id, actor=actor)


def _chain(session: Session, tenant: str) -> str:
    """A tenant's chain, or the service's own (events that name no tenant, e.g. failed
    authentications), which operators read as `_system`."""
    if tenant == audit.SYSTEM_TENANT:
        return tenant
    return crud.get_tenant(session, ref=tenant).id


def audit_history(engine: Engine, tenant: str, limit: int = 1000) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return audit.history(session, _chain(session, tenant), limit=limit)


def audit_verify(engine: Engine, tenant: str,
                 anchors: AnchorStore | None = None) -> audit.ChainReport:
    """Verify the keyed chain; with `anchors`, against the newest anchor outside the database
    too (a chain cut back or rewritten as a whole shows only there)."""
    with session_scope(engine) as session:
        tenant_id = _chain(session, tenant)
    try:
        anchor = latest_anchor(anchors, audit_keys(engine)) if anchors else None
    except AnchorInvalid as exc:
        return audit.ChainReport(False, 0, None, str(exc))
    with session_scope(engine) as session:
        return audit.verify(session, tenant_id, anchor.for_tenant(tenant_id) if anchor else None)


def audit_anchor_now(engine: Engine, anchors: AnchorStore) -> tuple[str, int]:
    return write_anchor(engine, anchors)


async def delete_tenant(engine: Engine, temporal: Temporal, tenant: str, *, force: bool,
                        actor: str) -> dict[str, Any]:
    """Offboard: refuse first (changing nothing) while backups under the tenant's key exist
    unless `force`, then stop its schedule, then mark the tenant. A failure to reach Temporal
    leaves the tenant as it was, and a re-run finishes the job."""
    from temporalio.service import RPCError, RPCStatusCode

    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        stake = offboard.at_stake(session, t.id)
    if stake["backups"] and not force:
        with session_scope(engine) as session:  # raises TenantHasBackups, writes nothing
            offboard.offboard(session, tenant_ref=t.id, force=False, actor=actor)
    schedule = "none"
    try:
        await (await temporal()).get_schedule_handle(schedule_id(t.id)).delete()
        schedule = "deleted"
    except RPCError as exc:
        # NOT_FOUND: the sweep schedule covers it (it skips offboarded tenants);
        # UNIMPLEMENTED: a server without Schedules has none to delete.
        if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNIMPLEMENTED):
            raise
    with session_scope(engine) as session:
        out = offboard.offboard(session, tenant_ref=t.id, force=force, actor=actor)
    return {**out, "schedule": schedule}
