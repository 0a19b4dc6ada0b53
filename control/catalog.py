"""The backup catalog as tenants see it: backups with the key each depends on, restores."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from byok import backups, crud
from byok.db import session_scope
from byok.errors import NotFound
from byok.models import Restore
from control.keyhealth import backup_rows


def backup_view(engine: Engine, tenant: str, backup_id: str) -> dict[str, Any]:
    """One backup of the tenant's, with its key kind and state today."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return backup_rows(session, [backups.get_backup(session, t.id, backup_id)])[0]


def get_backup(engine: Engine, tenant_id: str, backup_id: str) -> dict[str, Any] | None:
    """One of the tenant's backups, or None (also when it is another tenant's)."""
    with session_scope(engine) as session:
        try:
            row = backups.get_backup(session, tenant_id, backup_id)
        except NotFound:
            return None
        return backup_rows(session, [row])[0]


def list_backups(engine: Engine, tenant: str, limit: int = 500) -> list[dict[str, Any]]:
    """The tenant's backups, newest first, each with the key it depends on and its state."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return backup_rows(session, backups.list_backups(session, t.id)[:limit])


def list_restores(engine: Engine, tenant_id: str, limit: int = 500) -> list[Restore]:
    with session_scope(engine) as session:
        return list(session.exec(select(Restore).where(Restore.tenant_id == tenant_id)
                                 .order_by(col(Restore.created_at).desc()).limit(limit)).all())


def get_restore(engine: Engine, tenant_id: str, restore_id: str) -> Restore | None:
    """One of the tenant's restores, or None (also when it is another tenant's)."""
    with session_scope(engine) as session:
        row = session.get(Restore, restore_id)
    return row if row is not None and row.tenant_id == tenant_id else None
