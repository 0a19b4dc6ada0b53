"""Console sessions held server-side: the cookie carries a random id, the database its
SHA-256, so signing out (or revoking the key) ends the session for every copy of the cookie."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, delete

from byok.models import utcnow


class ConsoleSessionRow(SQLModel, table=True):
    __tablename__ = "console_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    key_id: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(db: Session, *, tenant_id: str, key_id: str, max_age: int) -> str:
    """A new session id (shown to the browser only); the database keeps its hash."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    db.exec(delete(ConsoleSessionRow).where(col(ConsoleSessionRow.expires_at) < now))
    db.add(ConsoleSessionRow(id_hash=_hash(sid), tenant_id=tenant_id, key_id=key_id,
                             created_at=now, expires_at=now + timedelta(seconds=max_age)))
    return sid


def valid(db: Session, sid: str, *, tenant_id: str, key_id: str) -> bool:
    row = db.get(ConsoleSessionRow, _hash(sid)) if sid else None
    if row is None or row.tenant_id != tenant_id or row.key_id != key_id:
        return False
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return expires > utcnow()


def end(db: Session, sid: str) -> None:
    """Sign-out: the id stops working wherever the cookie was copied to."""
    if sid:
        db.exec(delete(ConsoleSessionRow).where(col(ConsoleSessionRow.id_hash) == _hash(sid)))
