"""Read models shared by the JSON API and the console, all scoped to one tenant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from byok import crud, enablement
from byok.db import session_scope
from byok.models import Backup, Restore
from byok.settings import Settings
from starter import actions


async def start_enable(engine: Engine, settings: Settings,
                       temporal: Callable[[], Awaitable[Client]], *, tenant_id: str,
                       account: str, accept_irretrievable: bool, accept_immutable: bool,
                       actor: str) -> enablement.Issued:
    """Check the input before connecting to Temporal: bad input is a 4xx even if it is down."""
    with session_scope(engine) as session:
        tenant = crud.get_tenant(session, ref=tenant_id)
        enablement.check_preconditions(session, settings, tenant, account,
                                       accept_irretrievable, accept_immutable)
    return await actions.start_enable(
        await temporal(), engine, settings, tenant=tenant_id, account=account,
        accept_irretrievable=accept_irretrievable, accept_immutable=accept_immutable,
        actor=actor)


async def refresh_wallet(engine: Engine, settings: Settings, tenant_id: str) -> dict[str, Any]:
    """Re-check the tenant's key now and return the wallet.

    Hook for the key-health check: until it lands this only re-reads the stored wallet.
    """
    return actions.wallet_status(engine, settings, tenant_id)


def health_view(wallet: dict[str, Any]) -> dict[str, Any]:
    """Per-region key health; every region is `not_checked` until the health checks run."""
    key_errors: dict[str, Any] = wallet.get("key_errors") or {}
    regions: list[str] = list(wallet.get("installed_regions") or [])
    regions += [r for r in key_errors if r not in regions]
    arns: dict[str, str] = dict(wallet.get("replica_key_arns") or {})
    primary = wallet.get("key_arn") or ""
    if primary.count(":") >= 3:
        arns.setdefault(primary.split(":")[3], primary)  # arn:aws:kms:REGION:...
    rows = []
    for region in regions:
        err = key_errors.get(region)
        rows.append({
            "region": region,
            "key_arn": arns.get(region),
            "status": "error" if err else "not_checked",
            "error": err if isinstance(err, dict) else ({"message": str(err)} if err else None),
        })
    return {"tenant_id": wallet["tenant_id"], "wallet_state": wallet["state"],
            "checked_at": None, "regions": rows, "key_errors": key_errors}


def list_backups(session: Session, tenant_id: str, limit: int = 500) -> list[Backup]:
    return list(session.exec(select(Backup).where(Backup.tenant_id == tenant_id)
                             .order_by(col(Backup.created_at).desc()).limit(limit)).all())


def get_backup(session: Session, tenant_id: str, backup_id: str) -> Backup | None:
    row = session.get(Backup, backup_id)
    return row if row is not None and row.tenant_id == tenant_id else None


def list_restores(session: Session, tenant_id: str, limit: int = 500) -> list[Restore]:
    return list(session.exec(select(Restore).where(Restore.tenant_id == tenant_id)
                             .order_by(col(Restore.created_at).desc()).limit(limit)).all())
