"""HealthScheduleActivities: make sure key-health checks are scheduled for a tenant."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
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
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.health_sweep_schedule import ensure_sweep_schedule
from byok.health_messages import HealthCheckInput, schedule_id
from byok.messages import Done, TenantRef
from byok.settings import Settings

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
# By name: activities sit below workflows and do not import them.
KEY_HEALTH_WORKFLOW = "KeyHealthWorkflow"


def _schedule(settings: Settings, tenant_id: str, paused: bool) -> Schedule:
    attrs = TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)])
    return Schedule(
        action=ScheduleActionStartWorkflow(
            KEY_HEALTH_WORKFLOW, HealthCheckInput(tenant_id, "schedule"),
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
