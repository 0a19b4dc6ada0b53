"""Temporal Schedules the service keeps (key-health sweep, per-tenant checks, audit anchor):
one shape, and one idempotent create-or-update that keeps a pause made in the UI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import TypedSearchAttributes


def interval_schedule(workflow: Any, arg: Any, *, workflow_id: str, task_queue: str,
                      every: timedelta, execution_timeout: timedelta, note: str, paused: bool,
                      overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
                      search_attributes: TypedSearchAttributes | None = None) -> Schedule:
    """Start `workflow(arg)` every `every`; a run still going when the next is due is not
    doubled (SKIP) unless `overlap` says otherwise; missed runs are caught up within one
    interval only."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow, arg, id=workflow_id, task_queue=task_queue,
            execution_timeout=execution_timeout,
            typed_search_attributes=search_attributes or TypedSearchAttributes.empty),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=overlap, catchup_window=every),
        state=ScheduleState(note=note, paused=paused))


async def ensure_schedule(client: Client, schedule_id: str, build: Callable[[bool], Schedule],
                          search_attributes: TypedSearchAttributes | None = None) -> str:
    """Create the schedule, or bring an existing one up to date (idempotent); `build(paused)`
    makes it, and a schedule paused in the Temporal UI stays paused."""
    try:
        await client.create_schedule(schedule_id, build(False),
                                     search_attributes=search_attributes)
    except ScheduleAlreadyRunningError:
        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(build(current.description.schedule.state.paused))
        await client.get_schedule_handle(schedule_id).update(update)
    return schedule_id
