"""HealthScheduleActivities: make sure key-health checks are scheduled for a tenant."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.client import Client, Schedule
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.health_sweep_schedule import ensure_sweep_schedule
from byok.health_messages import HealthCheckInput, schedule_id
from byok.messages import Done, TenantRef
from byok.schedules import ensure_schedule, interval_schedule
from byok.settings import Settings

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
# By name: activities sit below workflows and do not import them.
KEY_HEALTH_WORKFLOW = "KeyHealthWorkflow"


async def ensure_health_schedule(client: Client, settings: Settings, tenant_id: str) -> str:
    """The tenant's own schedule (BYOK_HEALTH_SCHEDULE=tenant), created or brought up to date."""
    attrs = TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)])

    def build(paused: bool) -> Schedule:
        # A check still running (a throttled account) is not doubled by the next one.
        return interval_schedule(
            KEY_HEALTH_WORKFLOW, HealthCheckInput(tenant_id, "schedule"),
            workflow_id=schedule_id(tenant_id), task_queue=settings.task_queue,
            every=timedelta(seconds=settings.health_interval_seconds),
            execution_timeout=timedelta(hours=1), search_attributes=attrs, paused=paused,
            note=f"BYOK key-health checks of tenant {tenant_id}")
    return await ensure_schedule(client, schedule_id(tenant_id), build, attrs)


class HealthScheduleActivities:
    def __init__(self, settings: Settings):
        self.settings = settings

    @activity.defn(name="ensure_health_schedule")
    async def ensure(self, ref: TenantRef) -> Done:
        """Async: the activity's own Temporal client is only handed to async activities.
        `sweep` (the default) keeps the one fleet-wide sweep schedule; `tenant` one per
        tenant; `off` none, said in the log (checks then run only on demand)."""
        mode = self.settings.health_schedule
        if mode == "off":
            activity.logger.warning("BYOK_HEALTH_SCHEDULE=off: no scheduled key-health "
                                    "checks for %s", ref.tenant_id)
            return Done()
        try:
            if mode == "sweep":
                await ensure_sweep_schedule(activity.client(), self.settings)
            else:
                await ensure_health_schedule(activity.client(), self.settings, ref.tenant_id)
        except RPCError as exc:
            if exc.status != RPCStatusCode.UNIMPLEMENTED:
                raise
            # A key nobody checks is worse than a failed step: fail loudly, retry no more.
            raise ApplicationError(
                f"this Temporal server has no Schedules ({exc.message}): key-health checks "
                f"of {ref.tenant_id} cannot be scheduled; set BYOK_HEALTH_SCHEDULE=off to run "
                "them only on demand", type="HealthScheduleUnavailable",
                non_retryable=True) from None
        return Done()
