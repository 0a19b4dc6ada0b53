"""HealthScheduleActivities: create or update a tenant's key-health Temporal Schedule."""

from __future__ import annotations

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from byok.messages import Done, TenantRef
from byok.settings import Settings
from workflows.key_health import ensure_health_schedule


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
