"""The shape backups and restores share: plan, move the bytes (one heartbeating activity),
record the outcome, and fail the workflow with our error when the transfer failed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from byok.queues import transfer_queue
    from workflows import policies
    from workflows.errors import permanent_failure, transfer_exhausted

R = TypeVar("R")


async def run_transfer(*, plan: Callable[[Any, Any], Any], inp: Any,
                       move: Callable[[Any, Any], R], finish: Callable[[Any, Any], Any],
                       failed: Callable[[str, str], R]) -> R:
    # The catalog steps are short database writes: local activities, so they cost no task
    # round trip through the server (only the transfer itself is a regular activity).
    planned = await workflow.execute_local_activity_method(
        plan, inp, start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
    try:
        result: R = await workflow.execute_activity_method(
            move, planned, task_queue=transfer_queue(workflow.info().task_queue),
            start_to_close_timeout=policies.TRANSFER_TIMEOUT,
            schedule_to_close_timeout=policies.TRANSFER_TOTAL,
            # From the plan (recorded in history); plans recorded before it carry 30 s.
            heartbeat_timeout=timedelta(seconds=getattr(planned, "heartbeat_seconds", 30)),
            retry_policy=policies.TRANSFER)
    except ActivityError as err:
        # Permanent, or transient with every retry spent: either way the row and the audit
        # log must say so, never leave it pending.
        result = failed(*(permanent_failure(err) or transfer_exhausted(err)))
    await workflow.execute_local_activity_method(finish, result,
                                                 start_to_close_timeout=policies.SHORT,
                                                 retry_policy=policies.DB)
    if not getattr(result, "ok", False):
        code, message = result.error_code, result.error_message  # type: ignore[attr-defined]
        raise ApplicationError(message, {"code": code}, type=code, non_retryable=True)
    return result
