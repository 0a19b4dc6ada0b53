"""Reading our errors back out of failed activities."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError


def permanent_failure(err: ActivityError) -> tuple[str, str] | None:
    """(code, message) when an activity failed with one of our non-retryable errors."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        details = cause.details[0] if cause.details else {}
        code = details.get("code") if isinstance(details, dict) else None
        return code or cause.type or "FAILED", cause.message
    return None
