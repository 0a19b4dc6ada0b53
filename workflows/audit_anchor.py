"""AuditAnchorWorkflow: seal every audit chain's head outside the database, on a Schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
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

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from byok.messages import AnchorInput, AnchorResult
    from workflows import policies

if TYPE_CHECKING:
    from byok.settings import Settings

SCHEDULE_ID = "audit-anchor"


@workflow.defn
class AuditAnchorWorkflow:
    @workflow.run
    async def run(self, inp: AnchorInput) -> AnchorResult:
        return await workflow.execute_activity_method(
            AuditActivities.anchor_audit_heads, inp, start_to_close_timeout=policies.SHORT,
            retry_policy=policies.DB)


def _schedule(settings: Settings, paused: bool) -> Schedule:
    every = timedelta(seconds=settings.audit_anchor_interval_seconds)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AuditAnchorWorkflow.run, AnchorInput(), id=SCHEDULE_ID,
            task_queue=settings.task_queue, execution_timeout=timedelta(minutes=30)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
        state=ScheduleState(note="anchor every audit chain's head outside the database",
                            paused=paused))


async def ensure_anchor_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule or bring it up to date (idempotent); a pause in the UI stays."""
    try:
        await client.create_schedule(SCHEDULE_ID, _schedule(settings, paused=False))
    except ScheduleAlreadyRunningError:
        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(_schedule(settings, current.description.schedule.state.paused))
        await client.get_schedule_handle(SCHEDULE_ID).update(update)
    return SCHEDULE_ID
