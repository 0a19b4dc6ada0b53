"""Offboarding a tenant: what is at stake, refused while backups under its key exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from byok import audit, crud
from byok.errors import ByokError
from byok.models import Backup, KeyHealth, TenantHealth, Wallet, utcnow

OFFBOARDED = "Offboarded"


class TenantHasBackups(ByokError):
    """Backups under the tenant's own key exist: offboarding needs --force."""

    code = "TENANT_HAS_BACKUPS"


def at_stake(session: Session, tenant_id: str) -> dict[str, Any]:
    """Complete backups under the tenant's own keys, per key."""
    rows = session.exec(
        select(Backup.key_arn, func.count(),
               func.coalesce(func.sum(Backup.plaintext_size), 0))
        .where(Backup.tenant_id == tenant_id, col(Backup.key_kind) != "default",
               col(Backup.status) == "complete")
        .group_by(Backup.key_arn)).all()
    keys = [{"key_arn": k, "backups": int(n), "bytes": int(b)} for k, n, b in rows]
    return {"backups": sum(k["backups"] for k in keys), "bytes": sum(k["bytes"] for k in keys),
            "keys": keys}


def consequences(stake: dict[str, Any]) -> list[str]:
    lines = ["key-health checks of the tenant's keys stop (its schedule is deleted and the "
             "sweep skips it); no further alerts are sent",
             "the wallet becomes Offboarded; the key bindings and the audit trail stay on record"]
    if stake["backups"]:
        lines.append(
            f"{stake['backups']} backups ({stake['bytes']} bytes) under the tenant's key stay "
            "in the vault: they restore only while the tenant keeps the key and the role, and "
            "nobody watches that key any more")
    return lines


def offboard(session: Session, *, tenant_ref: str, force: bool, actor: str) -> dict[str, Any]:
    """Mark the tenant offboarded and drop its health rows; refuse (changing nothing) while
    backups under its key exist, unless forced."""
    tenant = crud.get_tenant(session, ref=tenant_ref)
    stake = at_stake(session, tenant.id)
    said = consequences(stake)
    if stake["backups"] and not force:
        raise TenantHasBackups(
            f"tenant {tenant.name} has {stake['backups']} backups under its own key; "
            "offboarding would mean: " + "; ".join(said) + ". Re-run with --force to do it.")
    wallet = session.get(Wallet, tenant.id)
    if wallet is not None:
        wallet.state, wallet.updated_at = OFFBOARDED, utcnow()
        session.add(wallet)
    session.exec(delete(KeyHealth).where(col(KeyHealth.tenant_id) == tenant.id))
    session.exec(delete(TenantHealth).where(col(TenantHealth.tenant_id) == tenant.id))
    audit.append(session, tenant_id=tenant.id, actor=actor, action="tenant.offboarded",
                 details={"forced": force, "backups_at_stake": stake["backups"],
                          "bytes_at_stake": stake["bytes"]})
    return {"tenant_id": tenant.id, "name": tenant.name, "at_stake": stake,
            "consequences": said}
