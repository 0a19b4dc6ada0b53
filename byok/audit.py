"""Append-only, tamper-evident audit history: each tenant's events form an HMAC chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from byok.db import audit_keys
from byok.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
SYSTEM_TENANT = "_system"
SECRET_KEYS = frozenset(
    {"token", "vault_token", "api_key", "external_id", "role_external_id", "plaintext",
     "secret", "password", "data_key", "session_token", "secret_access_key"}
)


def redact(details: dict[str, Any]) -> dict[str, Any]:
    """Secrets never reach the audit log, at any depth (inside lists too)."""
    return {k: "[redacted]" if k.lower() in SECRET_KEYS else _redact_value(v)
            for k, v in details.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def event_hash(*, tenant_id: str, seq: int, at: datetime, actor: str, action: str,
               details: dict[str, Any], prev_hash: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 under the audit key (kept outside the database, so whoever can write the
    database still cannot forge or recompute a link); events written before the chain was
    keyed (key None) keep their plain SHA-256."""
    body = json.dumps(
        [tenant_id, seq, at.isoformat(timespec="microseconds"), actor, action, details, prev_hash],
        sort_keys=True, separators=(",", ":"), default=str,
    ).encode()
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _keys(session: Session) -> dict[str, bytes]:
    bind = session.get_bind()
    return audit_keys(getattr(bind, "engine", bind))  # type: ignore[arg-type]


def _keyed(session: Session, tenant_id: str, event_key: str | None) -> AuditEvent | None:
    if event_key is None:
        return None
    return session.exec(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                 AuditEvent.event_key == event_key)).first()


def append(session: Session, *, tenant_id: str, actor: str, action: str,
           details: dict[str, Any] | None = None, event_key: str | None = None) -> AuditEvent:
    """Append one event; with an event_key a retried call returns the first event instead."""
    existing = _keyed(session, tenant_id, event_key)
    if existing:
        return existing
    clean = json.loads(json.dumps(redact(details or {}), default=str))
    key_id, key = next(iter(_keys(session).items()))
    for _attempt in range(20):
        last = session.exec(
            select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
            .order_by(col(AuditEvent.seq).desc()).limit(1)
        ).first()
        seq = last.seq + 1 if last else 1
        prev = last.hash if last else GENESIS
        at = utcnow()
        ev = AuditEvent(tenant_id=tenant_id, seq=seq, at=at, actor=actor, action=action,
                        details=clean, event_key=event_key, prev_hash=prev, key_id=key_id,
                        hash=event_hash(tenant_id=tenant_id, seq=seq, at=at, actor=actor,
                                        action=action, details=clean, prev_hash=prev,
                                        key=key))
        nested = session.begin_nested()
        try:
            session.add(ev)
            session.flush()
            head = session.get(AuditHead, tenant_id)
            if head is None:
                session.add(AuditHead(tenant_id=tenant_id, seq=seq, hash=ev.hash))
            else:
                head.seq, head.hash = seq, ev.hash
                session.add(head)
            session.flush()
            nested.commit()
            return ev
        except IntegrityError:
            # Another writer took this seq (or this event_key) first: re-read and retry.
            nested.rollback()
            existing = _keyed(session, tenant_id, event_key)
            if existing:
                return existing
    raise RuntimeError("audit append kept colliding with concurrent writers")


@dataclass
class ChainReport:
    ok: bool
    count: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session, tenant_id: str,
           anchor: tuple[int, str, str] | None = None) -> ChainReport:
    """Recompute the chain; name the first edited, missing or reordered event. With an
    `anchor` (seq, hash, when) taken outside the database, a chain cut back or rewritten as
    a whole is named too."""
    events = session.exec(
        select(AuditEvent).where(AuditEvent.tenant_id == tenant_id).order_by(col(AuditEvent.seq))
    ).all()
    keys = _keys(session)
    prev, keyed = GENESIS, False
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            return ChainReport(False, len(events), expected_seq,
                               f"event {expected_seq} is missing (next present is {ev.seq})")
        if ev.prev_hash != prev:
            return ChainReport(False, len(events), ev.seq,
                               f"event {ev.seq} does not link to event {ev.seq - 1}")
        if ev.key_id is None and keyed:
            return ChainReport(False, len(events), ev.seq, f"event {ev.seq} ({ev.action}) "
                               "carries no key after keyed events: it was forged")
        if ev.key_id is not None and ev.key_id not in keys:
            return ChainReport(False, len(events), ev.seq,
                               f"event {ev.seq} is sealed with audit key {ev.key_id!r}, "
                               "which BYOK_AUDIT_KEYS does not hold")
        keyed = ev.key_id is not None
        recomputed = event_hash(tenant_id=ev.tenant_id, seq=ev.seq, at=ev.at, actor=ev.actor,
                                action=ev.action, details=ev.details, prev_hash=ev.prev_hash,
                                key=keys[ev.key_id] if ev.key_id else None)
        if not hmac.compare_digest(recomputed, ev.hash):
            return ChainReport(False, len(events), ev.seq,
                               f"event {ev.seq} ({ev.action}) was altered after it was written")
        prev = ev.hash
    head = session.get(AuditHead, tenant_id)
    last_seq = events[-1].seq if events else 0
    if head is not None and (head.seq != last_seq or head.hash != prev):
        return ChainReport(False, len(events), last_seq + 1,
                           f"event {last_seq + 1} is missing: the chain ends at {last_seq} "
                           f"but {head.seq} events were written")
    if anchor is not None:
        seq, anchored_hash, when = anchor
        if last_seq < seq:
            return ChainReport(False, len(events), last_seq + 1,
                               f"events {last_seq + 1}-{seq} are missing: the anchor of {when} "
                               f"recorded {seq} events, the chain ends at {last_seq}")
        if seq and not hmac.compare_digest(events[seq - 1].hash, anchored_hash):
            return ChainReport(False, len(events), seq,
                               f"event {seq} differs from the anchor of {when}: the chain "
                               "was rewritten")
    return ChainReport(True, len(events))


def heads(session: Session) -> dict[str, tuple[int, str]]:
    """Every chain's newest link (seq, hash): what an anchor records."""
    return {h.tenant_id: (h.seq, h.hash) for h in session.exec(select(AuditHead)).all()}


def history(session: Session, tenant_id: str, limit: int = 1000) -> list[AuditEvent]:
    return list(session.exec(
        select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
        .order_by(col(AuditEvent.seq)).limit(limit)
    ).all())
