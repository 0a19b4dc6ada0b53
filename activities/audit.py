"""AuditActivities: workflows record each step in the tenant's hash-chained history."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from byok import audit
from byok.db import session_scope
from byok.messages import AuditInput, Done


class AuditActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name="record_audit")
    @byok_errors
    def record(self, inp: AuditInput) -> Done:
        # The event_key makes a retried activity write its event once, not twice.
        with session_scope(self.engine) as session:
            audit.append(session, tenant_id=inp.tenant_id, actor=inp.actor, action=inp.action,
                         details=dict(inp.details), event_key=inp.event_key)
        return Done()
