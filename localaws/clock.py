"""localaws's notion of now: real UTC time plus an offset moved by advance_clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from moto.core.utils import utcnow

_offset = timedelta()


def now() -> datetime:
    """Naive UTC, like the datetimes moto stores (e.g. a key's deletion_date)."""
    return utcnow() + _offset


def advance(delta: timedelta) -> datetime:
    global _offset
    _offset += delta
    return now()


def reset() -> None:
    global _offset
    _offset = timedelta()
