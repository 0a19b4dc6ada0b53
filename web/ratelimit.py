"""Rate limits (429 with Retry-After): per client for sign-in, failed authentication and the
stack callback, per tenant for on-demand checks. The store is pluggable: the default keeps
counts in this process's memory, so several web instances each count on their own — give
them a shared store (RateStore) to enforce one budget across instances."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Annotated, Protocol

from fastapi import Depends, Request

from byok.settings import Settings


class RateStore(Protocol):
    def hit(self, key: str, limit: int, window: float, *, count: bool = True) -> float | None:
        """Record one event (unless count=False) and return the seconds to wait if `key` had
        `limit` events in the last `window` seconds already, else None."""


class MemoryStore:
    """Sliding-window log per key; the least recently used keys go past `max_keys`."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.max_keys, self.clock = max_keys, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float, *, count: bool = True) -> float | None:
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            self._hits.move_to_end(key)
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(hits[0] + window - now, 0.001)
            if count:
                hits.append(now)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        return None


class RateLimited(Exception):
    def __init__(self, what: str, retry_after: float):
        super().__init__(what)
        self.what, self.retry_after = what, max(1, math.ceil(retry_after))

    @property
    def message(self) -> str:
        return f"too many {self.what}; try again in {self.retry_after} s"


# name -> (what the 429 says, the settings field with the limit per window)
RULES = {"signin": ("sign-in attempts from this client", "rate_limit_signin"),
         "auth": ("failed authentications from this client", "rate_limit_auth_failures"),
         "callback": ("stack callbacks from this client", "rate_limit_callback"),
         "check": ("on-demand key checks for this tenant", "rate_limit_checks")}


def client_of(request: Request) -> str:
    """The peer address (behind a load balancer, uvicorn --proxy-headers puts the client's)."""
    return request.client.host if request.client else "unknown"


class Limiter:
    def __init__(self, settings: Settings, store: RateStore | None = None):
        self.settings, self.store = settings, store or MemoryStore()

    def check(self, rule: str, who: str, *, count: bool = True) -> None:
        """Raise RateLimited once `who` used up `rule`'s budget; count=False only looks."""
        what, field = RULES[rule]
        wait = self.store.hit(f"{rule}:{who}", getattr(self.settings, field),
                              self.settings.rate_limit_window_seconds, count=count)
        if wait is not None:
            raise RateLimited(what, wait)


def limiter_of(request: Request) -> Limiter:
    return request.app.state.limiter


LimiterDep = Annotated[Limiter, Depends(limiter_of)]


def per_client(rule: str) -> Callable[[Request], None]:
    """A route dependency: one event of `rule` per request, keyed by the client."""

    def dependency(request: Request) -> None:
        limiter_of(request).check(rule, client_of(request))

    return dependency
