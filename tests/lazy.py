"""A Temporal client already connected, handed to control/ as the lazy getter it expects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def lazy(client: Any) -> Callable[[], Awaitable[Any]]:
    async def get() -> Any:
        return client
    return get
