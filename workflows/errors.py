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


def _reason(err: ActivityError) -> str:
    cause = err.cause
    # Our ApplicationErrors carry the ByokError's code and a message with no secret in it;
    # anything else is named by its type only (a raw message could echo request data).
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else {}
        code = details.get("code") if isinstance(details, dict) else None
        return f"{code}: {cause.message}" if code else cause.type or "ApplicationError"
    return type(cause).__name__ if cause else "no answer"


def transfer_exhausted(err: ActivityError) -> tuple[str, str]:
    """(code, message) for a backup or restore transfer whose retries ran out."""
    return "TRANSFER_FAILED", f"the transfer failed after every retry ({_reason(err)})"


def exhausted(err: ActivityError) -> tuple[str, str]:
    """(code, message) for an activity whose retries ran out on a transient failure (AWS
    throttling or an outage): the run ends in a state the tenant can start over from."""
    return "AWS_UNAVAILABLE", (f"AWS kept failing after every retry ({_reason(err)}); start again "
                               "when AWS answers")
