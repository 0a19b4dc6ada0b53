"""KeyHealthWorkflow: check, record, alert on a change (Schedule: activities/health_schedule)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.health import KeyHealthActivities
    from byok.health_messages import (
        AlertRef,
        HealthCheckInput,
        HealthOutcome,
        HealthReport,
        RecordInput,
        RecordResult,
    )
    from workflows import policies
    from workflows.alert_delivery import AlertDeliveryWorkflow

@workflow.defn
class KeyHealthWorkflow:
    @workflow.run
    async def run(self, inp: HealthCheckInput) -> HealthOutcome:
        try:
            # Throttling is retried here with backoff; only a finished check is recorded, so
            # a check that never got through raises no alert (false or otherwise).
            report: HealthReport = await workflow.execute_activity_method(
                KeyHealthActivities.check_key_health, inp,
                start_to_close_timeout=policies.AWS_TIMEOUT, retry_policy=policies.AWS)
        except ActivityError as err:
            return HealthOutcome(inp.tenant_id, False, error=str(err.cause or err))
        info = workflow.info()
        rec: RecordResult = await workflow.execute_activity_method(
            KeyHealthActivities.record_health,
            RecordInput(f"{info.workflow_id}/{info.run_id}", report),
            start_to_close_timeout=policies.SHORT,
            retry_policy=policies.DB)
        if rec.alert_id:
            # Delivery may retry for hours; it must not hold up the next check.
            await workflow.start_child_workflow(
                AlertDeliveryWorkflow.run, AlertRef(rec.alert_id), id=f"alert-{rec.alert_id}",
                parent_close_policy=ParentClosePolicy.ABANDON)
        return HealthOutcome(inp.tenant_id, True, rec.state, rec.alert_id)
