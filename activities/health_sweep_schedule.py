"""The one Temporal Schedule that sweeps every tenant's keys each interval (production path)."""

from __future__ import annotations

from datetime import timedelta

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

from byok.health_messages import SweepInput
from byok.settings import Settings

SWEEP_SCHEDULE_ID = "key-health-sweep"


def sweep_input(settings: Settings) -> SweepInput:
    return SweepInput(concurrency=settings.health_sweep_concurrency,
                      batch_size=settings.health_batch_size,
                      schedule_to_start_seconds=settings.health_schedule_to_start_seconds)


def sweep_schedule(settings: Settings, paused: bool) -> Schedule:
    every = timedelta(seconds=settings.health_interval_seconds)
    return Schedule(
        # By type name: activities never import workflows.
        action=ScheduleActionStartWorkflow(
            "HealthSweepWorkflow", sweep_input(settings), id=SWEEP_SCHEDULE_ID,
            task_queue=settings.task_queue, execution_timeout=4 * every),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A sweep that outlasts its interval is followed at once by the next (one buffered),
        # never doubled nor skipped: every tenant is still checked once per sweep.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=every),
        state=ScheduleState(note="BYOK key-health sweep of every tenant", paused=paused))


async def ensure_sweep_schedule(client: Client, settings: Settings) -> str:
    """Create the sweep's schedule or bring it up to date (idempotent); a schedule paused in
    the Temporal UI stays paused."""
    try:
        await client.create_schedule(SWEEP_SCHEDULE_ID, sweep_schedule(settings, paused=False))
    except ScheduleAlreadyRunningError:
        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(sweep_schedule(settings,
                                                 current.description.schedule.state.paused))
        await client.get_schedule_handle(SWEEP_SCHEDULE_ID).update(update)
    return SWEEP_SCHEDULE_ID
