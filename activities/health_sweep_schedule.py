"""The one Temporal Schedule that sweeps every tenant's keys each interval (production path)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, Schedule, ScheduleOverlapPolicy

from byok.health_messages import SweepInput
from byok.schedules import ensure_schedule, interval_schedule
from byok.settings import Settings

SWEEP_SCHEDULE_ID = "key-health-sweep"


def sweep_input(settings: Settings) -> SweepInput:
    return SweepInput(concurrency=settings.health_sweep_concurrency,
                      batch_size=settings.health_batch_size,
                      schedule_to_start_seconds=settings.health_schedule_to_start_seconds)


def sweep_schedule(settings: Settings, paused: bool) -> Schedule:
    every = timedelta(seconds=settings.health_interval_seconds)
    # By type name: activities never import workflows. A sweep that outlasts its interval is
    # followed at once by the next (one buffered), never doubled nor skipped: every tenant
    # is still checked once per sweep.
    return interval_schedule(
        "HealthSweepWorkflow", sweep_input(settings), workflow_id=SWEEP_SCHEDULE_ID,
        task_queue=settings.task_queue, every=every, execution_timeout=4 * every,
        overlap=ScheduleOverlapPolicy.BUFFER_ONE, paused=paused,
        note="BYOK key-health sweep of every tenant")


async def ensure_sweep_schedule(client: Client, settings: Settings) -> str:
    return await ensure_schedule(client, SWEEP_SCHEDULE_ID,
                                 lambda paused: sweep_schedule(settings, paused))
