"""KeyHealthWorkflow (check, record, alert on a change) and its per-tenant Schedule."""

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
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.health import KeyHealthActivities
    from byok.health_messages import (
        AlertRef,
        HealthCheckInput,
        HealthOutcome,
        HealthReport,
        MissedInput,
        RecordInput,
        RecordResult,
    )
    from workflows import policies
    from workflows.alert_delivery import AlertDeliveryWorkflow

if TYPE_CHECKING:
    from byok.settings import Settings

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")


@workflow.defn
class KeyHealthWorkflow:
    @workflow.run
    async def run(self, inp: HealthCheckInput) -> HealthOutcome:
        queue = inp.task_queue or None
        waited = timedelta(seconds=inp.schedule_to_start_seconds)
        try:
            # Throttling is retried here with backoff; only a finished check is recorded, so
            # a check that never got through raises no alert (false or otherwise).
            report: HealthReport = await workflow.execute_activity_method(
                KeyHealthActivities.check_key_health, inp, task_queue=queue,
                schedule_to_start_timeout=waited,
                start_to_close_timeout=policies.AWS_TIMEOUT, retry_policy=policies.AWS)
        except ActivityError as err:
            if isinstance(err.cause, TimeoutError) and \
                    err.cause.type == TimeoutType.SCHEDULE_TO_START:
                # A starved queue: say so from this worker (a local activity needs no queue).
                await workflow.execute_local_activity_method(
                    KeyHealthActivities.record_missed_check,
                    MissedInput(_check_id(), [inp.tenant_id], inp.schedule_to_start_seconds,
                                inp.task_queue),
                    start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
                return HealthOutcome(inp.tenant_id, False, error=(
                    f"no worker started the check within {inp.schedule_to_start_seconds}s"))
            return HealthOutcome(inp.tenant_id, False, error=str(err.cause or err))
        rec: RecordResult = await workflow.execute_activity_method(
            KeyHealthActivities.record_health, RecordInput(_check_id(), report),
            task_queue=queue, start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        if rec.alert_id:
            # Delivery may retry for hours; it must not hold up the next check.
            await workflow.start_child_workflow(
                AlertDeliveryWorkflow.run, AlertRef(rec.alert_id), id=f"alert-{rec.alert_id}",
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(TENANT_ID, inp.tenant_id)]))
        return HealthOutcome(inp.tenant_id, True, rec.state, rec.alert_id)


def _check_id() -> str:
    info = workflow.info()
    return f"{info.workflow_id}/{info.run_id}"


def schedule_id(tenant_id: str) -> str:
    return f"key-health-{tenant_id}"


def _schedule(settings: Settings, tenant_id: str, paused: bool) -> Schedule:
    attrs = TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)])
    return Schedule(
        action=ScheduleActionStartWorkflow(
            KeyHealthWorkflow.run, HealthCheckInput(tenant_id, "schedule"),
            id=schedule_id(tenant_id), task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=1), typed_search_attributes=attrs),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(seconds=settings.health_interval_seconds))]),
        # A check still running (a throttled account) is not doubled by the next one.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP,
                              catchup_window=timedelta(seconds=settings.health_interval_seconds)),
        state=ScheduleState(note=f"BYOK key-health checks of tenant {tenant_id}", paused=paused))


async def ensure_health_schedule(client: Client, settings: Settings, tenant_id: str) -> str:
    """Create the tenant's schedule, or bring an existing one up to date (idempotent); a
    schedule paused in the Temporal UI stays paused."""
    sid = schedule_id(tenant_id)
    try:
        await client.create_schedule(
            sid, _schedule(settings, tenant_id, paused=False),
            search_attributes=TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)]))
    except ScheduleAlreadyRunningError:
        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            paused = current.description.schedule.state.paused
            return ScheduleUpdate(_schedule(settings, tenant_id, paused))
        await client.get_schedule_handle(sid).update(update)
    return sid
