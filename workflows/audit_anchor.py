"""AuditAnchorWorkflow: seal every audit chain's head outside the database, on a Schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.client import Client, Schedule

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from byok.messages import AnchorInput, AnchorResult
    from byok.schedules import ensure_schedule, interval_schedule
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


async def ensure_anchor_schedule(client: Client, settings: Settings) -> str:
    def build(paused: bool) -> Schedule:
        return interval_schedule(
            AuditAnchorWorkflow.run, AnchorInput(), workflow_id=SCHEDULE_ID,
            task_queue=settings.task_queue,
            every=timedelta(seconds=settings.audit_anchor_interval_seconds),
            execution_timeout=timedelta(minutes=30), paused=paused,
            note="anchor every audit chain's head outside the database")
    return await ensure_schedule(client, SCHEDULE_ID, build)
