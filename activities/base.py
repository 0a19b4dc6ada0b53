"""What every activity class shares: ByokErrors become ApplicationErrors at the boundary."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from temporalio.exceptions import ApplicationError

from byok.aws import map_error
from byok.errors import ByokError

F = TypeVar("F", bound=Callable[..., Any])


def to_application_error(exc: ByokError) -> ApplicationError:
    """Permanent failures are non-retryable; `type` is our class name, details carry the code."""
    return ApplicationError(exc.message, {"code": exc.code, "field": exc.field},
                            type=type(exc).__name__, non_retryable=not exc.retryable)


def byok_errors(fn: F) -> F:
    """Decorate a (sync) activity so our errors cross Temporal with their type and code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ByokError as exc:
            raise to_application_error(exc) from None
        except (ClientError, BotoCoreError) as exc:
            raise to_application_error(map_error(exc)) from None

    return wrapper  # type: ignore[return-value]
