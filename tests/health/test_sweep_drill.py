"""The fleet sweep (bounded, continue-as-new, a throttled tenant delays no one) and drills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

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
    # The first tenant's account throttles past botocore's 5 attempts: the batch hands it to
    # its own KeyHealthWorkflow (which retries with backoff) and goes on with the others.
    localaws.inject_fault("kms", "GenerateDataKey", count=7, account=account_id(0))
    handle = await temporal_env.client.start_workflow(
        HealthSweepWorkflow.run, SweepInput(concurrency=2, batch_size=2, batches_per_run=2),
        id="sweep-test", task_queue=settings.task_queue)
    result = await handle.result()
    assert (result.checked, result.handed_off, result.failed, result.changed) == (4, 1, 0, 0)
    first = handle.first_execution_run_id
    assert (await handle.describe()).run_id != first  # continued as new
    alone = f"sweep-test/{first}/1/{tenants[0]}"
    outcome = await temporal_env.client.get_workflow_handle(alone).result()
    assert outcome["checked"] and outcome["state"] == "Healthy"
    with session_scope(engine) as session:
        rows = {h.tenant_id: h for h in session.exec(select(TenantHealth)).all()}
    assert set(rows) == set(tenants) and {h.state for h in rows.values()} == {"Healthy"}
    # The order, from what was recorded rather than from clocks: the throttled tenant's
    # batch-mate was stored by that very batch, everyone else by the sweep's batches, and the
    # throttled tenant only by its own workflow, which the sweep started for it.
    assert rows[tenants[1]].last_check_id == f"sweep-test/{first}/1/{tenants[1]}"
    assert all(rows[t].last_check_id.startswith("sweep-test/")  # type: ignore[union-attr]
               and rows[t].checks == 1 for t in tenants[1:])
    assert rows[tenants[0]].last_check_id.startswith(f"{alone}/")  # type: ignore[union-attr]
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
