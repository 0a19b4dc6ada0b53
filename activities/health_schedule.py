"""HealthScheduleActivities: create or update a tenant's key-health Temporal Schedule."""

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
from temporalio.service import RPCError, RPCStatusCode

from byok.health_messages import HealthCheckInput
from byok.messages import Done, TenantRef
from byok.settings import Settings

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
# By name: activities sit below workflows and do not import them.
KEY_HEALTH_WORKFLOW = "KeyHealthWorkflow"


def schedule_id(tenant_id: str) -> str:
    return f"key-health-{tenant_id}"


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
        """Async: the activity's own Temporal client is only handed to async activities."""
        try:
            await ensure_health_schedule(activity.client(), self.settings, ref.tenant_id)
        except RPCError as exc:
            # Temporal's time-skipping test server has no Schedules; every real server does.
            if exc.status != RPCStatusCode.UNIMPLEMENTED:
                raise
            activity.logger.warning("this Temporal server has no Schedules: %s", exc.message)
            return Done(ok=False)
        return Done()
