"""AlertDeliveryWorkflow: deliver one key-health alert to the tenant's webhook, durably."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from byok.health_messages import AlertRef, DeliveryResult
    from workflows import policies

# A webhook that is down gets retried for about a day, backing off to once an hour; each
# attempt is recorded, and the alert stays in the console's list whatever happens.
WEBHOOK = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                      maximum_interval=timedelta(hours=1), maximum_attempts=30)
WEBHOOK_TIMEOUT = timedelta(seconds=60)


@workflow.defn
class AlertDeliveryWorkflow:
    @workflow.run
    async def run(self, ref: AlertRef) -> DeliveryResult:
        try:
            return await workflow.execute_activity_method(
                NotifyActivities.notify_alert, ref,
                start_to_close_timeout=WEBHOOK_TIMEOUT, retry_policy=WEBHOOK)
        except ActivityError:
            return await workflow.execute_activity_method(
                NotifyActivities.give_up_alert, ref,
                start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
