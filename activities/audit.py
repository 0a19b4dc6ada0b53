"""AuditActivities: workflows record each step in the tenant's keyed chain; the chains'
heads are anchored outside the database on a schedule."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from byok import audit
from byok.audit_anchor import AnchorStore, write_anchor
from byok.db import session_scope
from byok.messages import AnchorInput, AnchorResult, AuditInput, Done


class AuditActivities:
    def __init__(self, engine: Engine, anchors: AnchorStore):
        self.engine, self.anchors = engine, anchors

    @activity.defn(name="record_audit")
    @byok_errors
    def record(self, inp: AuditInput) -> Done:
        # The event_key makes a retried activity write its event once, not twice.
        with session_scope(self.engine) as session:
            audit.append(session, tenant_id=inp.tenant_id, actor=inp.actor, action=inp.action,
                         details=dict(inp.details), event_key=inp.event_key)
        return Done()

    @activity.defn
    @byok_errors
    def anchor_audit_heads(self, inp: AnchorInput) -> AnchorResult:
        # A retry writes one more snapshot under a new name: anchors never overwrite.
        return AnchorResult(*write_anchor(self.engine, self.anchors))
