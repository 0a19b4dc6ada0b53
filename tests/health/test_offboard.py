"""`byok tenant delete`: refused while backups under the key exist, then offboarded, and the
tenant's key-health checks stop."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from activities.health import KeyHealthActivities
from byok.db import session_scope
from byok.health_messages import TenantPageInput
from byok.models import AuditEvent, KeyHealth, Wallet
from byok.offboard import TenantHasBackups
from control.tenants import delete_tenant
from tests.lazy import lazy
from worker import vault_store


def wallet_state(engine: Any, tenant_id: str) -> str:
    with session_scope(engine) as session:
        w = session.get(Wallet, tenant_id)
        assert w is not None
        return w.state


async def test_delete_is_refused_with_backups_then_forced(hooks: Any, backup: Any,
                                                          settings: Any, aws: Any) -> None:
    engine, tid = hooks.engine, hooks.tenant_id
    await backup("us-east-1", size=2000)
    await hooks.check()
    with pytest.raises(TenantHasBackups) as info:
        await delete_tenant(engine, lazy(hooks.env.client), tid, force=False, actor="test")
    assert "1 backups (2000 bytes)" in info.value.message and "--force" in info.value.message
    assert wallet_state(engine, tid) == "Enabled"  # refused: nothing changed
    assert hooks.view()["state"] == "Healthy"
    out = await delete_tenant(engine, lazy(hooks.env.client), tid, force=True, actor="test")
    assert out["at_stake"]["backups"] == 1
    assert any("stay in the vault" in line for line in out["consequences"])
    assert wallet_state(engine, tid) == "Offboarded"
    with session_scope(engine) as session:
        assert session.exec(select(KeyHealth).where(KeyHealth.tenant_id == tid)).all() == []
        [event] = session.exec(select(AuditEvent).where(
            AuditEvent.tenant_id == tid, AuditEvent.action == "tenant.offboarded")).all()
    assert event.details["forced"] is True
    acts = KeyHealthActivities(aws, engine, settings, vault_store(settings, aws))
    assert tid not in acts.list_health_tenants(TenantPageInput()).tenant_ids  # the sweep skips


async def test_delete_without_backups_needs_no_force(hooks: Any) -> None:
    out = await delete_tenant(hooks.engine, lazy(hooks.env.client), hooks.tenant_id, force=False,
                              actor="test")
    assert out["at_stake"]["backups"] == 0
    assert wallet_state(hooks.engine, hooks.tenant_id) == "Offboarded"
