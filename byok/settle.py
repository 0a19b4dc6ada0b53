"""Tolerating AWS's eventual consistency: a role, key or replica just created may answer
NotFound or AccessDenied for a while, so such answers are retried for a bounded time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from byok.errors import ByokError

T = TypeVar("T")

# Our codes for "not there" and "not allowed": what a just-created resource answers.
UNSETTLED = frozenset({"KEY_NOT_FOUND", "KEY_ACCESS_DENIED", "ROLE_NOT_ASSUMABLE"})


def settle(call: Callable[[], T], seconds: float, codes: frozenset[str] = UNSETTLED,
           waiting: Callable[[], object] = lambda: None) -> T:
    """call(), retried while it fails with one of `codes`, for up to `seconds`; after that
    its error stands (a resource that is really missing is reported, only later).
    `waiting` runs before each pause (an activity heartbeats there)."""
    deadline, pause = time.monotonic() + seconds, 0.25
    while True:
        try:
            return call()
        except ByokError as exc:
            if exc.code not in codes or time.monotonic() + pause > deadline:
                raise
        waiting()
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
