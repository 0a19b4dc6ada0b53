"""The use cases the CLI, the web app and the queue consumer share: input checked, then Temporal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from temporalio.client import Client

# The Temporal client, connected only when a use case gets past its input checks: bad input is
# refused even while Temporal is down, and a read never connects at all.
Temporal: TypeAlias = "Callable[[], Awaitable[Client]]"
