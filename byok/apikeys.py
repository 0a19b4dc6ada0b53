"""Tenant API keys: shown once at creation, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from byok import audit
from byok.errors import InvalidInput, NotFound, Unauthorized
from byok.models import ApiKey, Tenant, utcnow

KEY_PREFIX = "bvk_"
PREFIX_LEN = 12  # "bvk_" + 8 characters: enough to tell keys apart, useless to an attacker
MAX_KEY_LEN = 200
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,99}$")
# Writing last_used_at on every request would serialize all readers on SQLite.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class IssuedKey:
    """A new key: `key` is the only time the secret exists outside the caller's hands."""

    row: ApiKey
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(session: Session, *, tenant_id: str, name: str = "default",
           actor: str = "operator") -> IssuedKey:
    name = (name or "default").strip()
    if not NAME_RE.match(name):
        raise InvalidInput("key name must be 1-100 characters of letters, digits, space or "
                           "._:@-, starting with a letter or digit", field="name")
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id!r}", field="tenant")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(id="ak-" + secrets.token_hex(8), tenant_id=tenant_id, name=name,
                 key_hash=hash_key(key), prefix=key[:PREFIX_LEN])
    session.add(row)
    session.flush()
    audit.append(session, tenant_id=tenant_id, actor=actor, action="apikey.created",
                 details={"key_id": row.id, "name": name, "prefix": row.prefix})
    return IssuedKey(row, key)


def verify(session: Session, key: str) -> ApiKey:
    """The key's row if the key is known and not revoked; Unauthorized otherwise."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LEN:
        raise Unauthorized("invalid API key", field="authorization")
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key", field="authorization")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
        session.add(row)
    return row


def get_active(session: Session, key_id: str) -> ApiKey | None:
    """A key by id, if it still works (the console session refers to its key by id)."""
    row = session.get(ApiKey, key_id)
    return row if row is not None and row.revoked_at is None else None


def list_keys(session: Session, *, tenant_id: str) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.tenant_id == tenant_id)
                             .order_by(col(ApiKey.created_at))).all())


def revoke(session: Session, *, tenant_id: str, key_id: str, actor: str = "operator") -> ApiKey:
    """Revoke one of the tenant's keys; another tenant's key is simply not found."""
    row = session.get(ApiKey, key_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no API key {key_id[:60]!r} for this tenant", field="key_id")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        audit.append(session, tenant_id=tenant_id, actor=actor, action="apikey.revoked",
                     details={"key_id": row.id, "prefix": row.prefix})
    return row
