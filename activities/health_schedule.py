"""HealthScheduleActivities: make sure key-health checks are scheduled for a tenant."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.health_sweep_schedule import ensure_sweep_schedule
from byok.messages import Done, TenantRef
from byok.settings import Settings
from workflows.key_health import ensure_health_schedule


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
