"""Per-request costs of moto's server that do not depend on what is being asked (measured with
cProfile on a KMS request): none of these change what any request answers.

- The dispatcher lists moto's package directory (a listdir and ~180 stat calls) twice per
  request to decide whether the host names a moto module: about 40% of a KMS request.
- Each request lists the response class's methods with inspect.getmembers.
- Every backends[account] lookup copies the list of accounts (list(self.keys())) to see
  whether the account exists: O(accounts) per lookup, several lookups per request.
"""

from __future__ import annotations

import functools
from typing import Any


def apply() -> None:
    from moto import backends
    from moto.core import base_backend, responses
    from moto.core.base_backend import BackendDict

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        responses.method_names_from_class
    )

    original = BackendDict.__getitem__

    def getitem(self: BackendDict[Any], account_id: str) -> Any:
        # An account present since the last reset was registered in BackendDict._instances
        # when it was created (reset() clears both), so moto's slow path has nothing to add.
        found = dict.get(self, account_id)
        if found is not None and self in base_backend.BackendDict._instances:  # type: ignore[misc]
            return found
        return original(self, account_id)

    BackendDict.__getitem__ = getitem  # type: ignore[method-assign]
