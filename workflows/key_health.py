"""KeyHealthWorkflow: check, record, alert on a change (Schedule: activities/health_schedule)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
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
