"""byok.settle inside an activity: it heartbeats while it waits for AWS to settle."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from temporalio import activity

from byok import settle as _settle
from byok.settle import UNSETTLED

T = TypeVar("T")
__all__ = ["UNSETTLED", "settle"]


def _beat() -> None:
    if activity.in_activity():
        activity.heartbeat("waiting for AWS to settle")


def settle(call: Callable[[], T], seconds: float, codes: frozenset[str] = UNSETTLED) -> T:
    return _settle.settle(call, seconds, codes, _beat)
