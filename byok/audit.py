"""Append-only, tamper-evident audit history: each tenant's events form a SHA-256 chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from byok.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
SYSTEM_TENANT = "_system"
SECRET_KEYS = frozenset(
    {"token", "vault_token", "api_key", "external_id", "role_external_id", "plaintext",
     "secret", "password", "data_key", "session_token", "secret_access_key"}
)


def redact(details: dict[str, Any]) -> dict[str, Any]:
    """Secrets never reach the audit log, at any depth."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if k.lower() in SECRET_KEYS:
            out[k] = "[redacted]"
        elif isinstance(v, dict):
            out[k] = redact(v)
        else:
            out[k] = v
    return out


def event_hash(*, tenant_id: str, seq: int, at: datetime, actor: str, action: str,
               details: dict[str, Any], prev_hash: str) -> str:
    body = json.dumps(
        [tenant_id, seq, at.isoformat(timespec="microseconds"), actor, action, details, prev_hash],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


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
    for _attempt in range(20):
        last = session.exec(
            select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
            .order_by(col(AuditEvent.seq).desc()).limit(1)
        ).first()
        seq = last.seq + 1 if last else 1
        prev = last.hash if last else GENESIS
        at = utcnow()
        ev = AuditEvent(tenant_id=tenant_id, seq=seq, at=at, actor=actor, action=action,
                        details=clean, event_key=event_key, prev_hash=prev,
                        hash=event_hash(tenant_id=tenant_id, seq=seq, at=at, actor=actor,
                                        action=action, details=clean, prev_hash=prev))
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


def verify(session: Session, tenant_id: str) -> ChainReport:
    """Recompute the chain; name the first edited, missing or reordered event."""
    events = session.exec(
        select(AuditEvent).where(AuditEvent.tenant_id == tenant_id).order_by(col(AuditEvent.seq))
    ).all()
    prev = GENESIS
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            return ChainReport(False, len(events), expected_seq,
                               f"event {expected_seq} is missing (next present is {ev.seq})")
        if ev.prev_hash != prev:
            return ChainReport(False, len(events), ev.seq,
                               f"event {ev.seq} does not link to event {ev.seq - 1}")
        recomputed = event_hash(tenant_id=ev.tenant_id, seq=ev.seq, at=ev.at, actor=ev.actor,
                                action=ev.action, details=ev.details, prev_hash=ev.prev_hash)
        if recomputed != ev.hash:
            return ChainReport(False, len(events), ev.seq,
                               f"event {ev.seq} ({ev.action}) was altered after it was written")
        prev = ev.hash
    head = session.get(AuditHead, tenant_id)
    last_seq = events[-1].seq if events else 0
    if head is not None and (head.seq != last_seq or head.hash != prev):
        return ChainReport(False, len(events), last_seq + 1,
                           f"event {last_seq + 1} is missing: the chain ends at {last_seq} "
                           f"but {head.seq} events were written")
    return ChainReport(True, len(events))


def history(session: Session, tenant_id: str, limit: int = 1000) -> list[AuditEvent]:
    return list(session.exec(
        select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
        .order_by(col(AuditEvent.seq)).limit(limit)
    ).all())
