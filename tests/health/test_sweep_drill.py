"""The fleet sweep (bounded, continue-as-new, a throttled tenant delays no one) and drills."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus

from byok.db import session_scope
from byok.health_messages import SweepInput
from byok.models import KeyHealth, TenantHealth
from byok.settings import Settings
from starter.health_seed import account_id, seed_tenant
from workflows.health_sweep import HealthSweepWorkflow


async def test_sweep_checks_everyone_while_one_tenant_is_throttled(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, worker: Any,
        localaws: Any) -> None:
    tenants = [seed_tenant(engine, settings, n) for n in range(5)]
    # The first tenant's account throttles past botocore's retries: its check retries in
    # Temporal while the other slot works through everyone else.
    localaws.inject_fault("kms", "DescribeKey", count=7, account=account_id(0))
    handle = await temporal_env.client.start_workflow(
        HealthSweepWorkflow.run, SweepInput(concurrency=2, page_size=2, tenants_per_run=2),
        id="sweep-test", task_queue=settings.task_queue)
    result = await handle.result()
    assert (result.checked + result.handed_off, result.failed, result.changed) == (5, 0, 0)
    assert (await handle.describe()).run_id != handle.first_execution_run_id  # continued
    if result.handed_off:  # the throttled check went on alone: wait until it records
        child = temporal_env.client.get_workflow_handle(f"sweep-test/{tenants[0]}")
        for _ in range(100):
            if (await child.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await temporal_env.sleep(timedelta(seconds=5))
    with session_scope(engine) as session:
        rows = {h.tenant_id: h for h in session.exec(select(TenantHealth)).all()}
    assert set(rows) == set(tenants) and {h.state for h in rows.values()} == {"Healthy"}
    slow = rows[tenants[0]].checked_at
    assert all(rows[t].checked_at < slow for t in tenants[1:])
    assert [f["count"] for f in localaws.faults()] == [0]


async def test_restore_drill_opens_a_real_backup_and_reports_a_broken_one(
        hooks: Any, backup: Any, settings: Settings) -> None:
    made = await backup("us-east-1", size=300_000)
    out = await hooks.check(force_drill=True)
    assert out.state == "Healthy"
    assert hooks.region("us-east-1")["drilled_backup"] == made["id"]
    assert hooks.region("us-west-2")["drilled_backup"] is None  # nothing to drill there
    path = Path(settings.vault_dir) / f"{hooks.tenant_id}/{made['id']}.byok"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside frame 1: only a real decryption notices
    path.write_bytes(bytes(data))
    out = await hooks.check(force_drill=True)
    assert out.state == "Unavailable" and out.alert_id
    finding = hooks.region("us-east-1")["findings"][0]
    assert finding["code"] == "DRILL_FAILED" and made["id"] in finding["message"]


async def test_drill_waits_for_its_interval(hooks: Any, backup: Any, engine: Engine) -> None:
    await backup("us-east-1")
    await hooks.check(force_drill=True)
    first = hooks.region("us-east-1")["drilled_at"]
    await hooks.check()  # the default interval (an hour) has not passed
    assert hooks.region("us-east-1")["drilled_at"] == first
    with session_scope(engine) as session:
        assert len(session.exec(select(KeyHealth)).all()) == 3
