"""MigrateByokWorkflow: a legacy (template v1) tenant moves to the multi-region key and
keeps every old backup restorable."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.worker import Worker

from byok import audit
from byok.db import session_scope
from byok.errors import ByokError
from byok.models import EnableToken, KeyBinding
from byok.settings import Settings
from control.backups import run_backup
from control.catalog import list_backups
from control.enablement import deliver_callback, start_migration
from control.restores import run_restore
from control.wallet import wallet_status
from starter.customer import deploy_stack, tenant_session
from starter.legacy import LegacyTenant, create_legacy_tenant
from tests.conftest import TENANT_ACCOUNT
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS
from worker import WORKFLOWS, activities
from workflows.migrate_byok import MigrateByokWorkflow


@pytest.fixture
def legacy(settings: Settings, engine: Engine, aws: Any) -> LegacyTenant:
    return create_legacy_tenant(settings, engine, name="oldco", account_id=TENANT_ACCOUNT,
                                regions=REGIONS)


class Ops:
    def __init__(self, env: Any, engine: Engine, settings: Settings, tenant: str):
        self.env, self.engine, self.settings, self.tenant = env, engine, settings, tenant

    async def backup(self, data: bytes, tmp: Path, region: str | None = None) -> dict:
        src = tmp / f"src-{len(list(tmp.iterdir()))}"
        src.write_bytes(data)
        return await run_backup(self.engine, self.settings, lazy(self.env.client),
                                tenant=self.tenant, workload="vmware_vm", source=f"file://{src}",
                                region=region, actor="test")

    async def restore(self, backup_id: str, tmp: Path) -> bytes:
        out = tmp / f"out-{backup_id}"
        await run_restore(self.engine, self.settings, lazy(self.env.client), tenant=self.tenant,
                          backup_id=backup_id, target=str(out), force=False, actor="test")
        return out.read_bytes()

    async def migrate(self) -> dict:
        return await start_migration(self.engine, self.settings, lazy(self.env.client),
                                     tenant=self.tenant, actor="test")

    async def upgrade_stack(self, issued: dict) -> None:
        payload = await asyncio.to_thread(
            deploy_stack, self.settings, account_id=issued["account_native_id"],
            token=issued["token"], external_id=issued["external_id"], upgrade=True,
            wait=False)
        await deliver_callback(self.engine, lazy(self.env.client), payload)

    async def result(self) -> Any:
        return await self.env.client.get_workflow_handle_for(
            MigrateByokWorkflow.run, f"migrate-byok-{self.tenant}").result()


@pytest.fixture
def ops(temporal_env: Any, engine: Engine, settings: Settings, legacy: LegacyTenant) -> Ops:
    return Ops(temporal_env, engine, settings, legacy.tenant_id)


async def test_legacy_tenant_migrates_and_keeps_old_backups(
        ops: Ops, worker: Any, legacy: LegacyTenant, engine: Engine, settings: Settings,
        tmp_path: Path) -> None:
    status = wallet_status(engine, settings, legacy.tenant_id)
    assert status["stack_version"] == 1 and status["upgrade_available"]
    assert "v1 -> v2" in status["upgrade"]
    old = await ops.backup(b"legacy era" * 500, tmp_path)
    assert old["key_arn"] == legacy.key_arn

    issued = await ops.migrate()
    assert issued["migrated"] and len(issued["token"]) == 36
    await ops.upgrade_stack(issued)
    view = await ops.result()
    assert view.state == "Enabled" and view.error_code is None, view
    assert view.key_arn != legacy.key_arn and view.key_arn.split("/")[1].startswith("mrk-")
    assert sorted(view.replica_key_arns) == ["eu-west-1", "us-west-2"]

    new = await ops.backup(b"multi-region era" * 500, tmp_path)
    west = await ops.backup(b"west" * 500, tmp_path, "us-west-2")
    assert new["key_arn"] == view.key_arn and new["key_kind"] == "byok"
    assert west["key_arn"] == view.replica_key_arns["us-west-2"]
    listed = {b["id"]: b["key_kind"] for b in list_backups(engine, legacy.tenant_id)}
    assert listed[old["id"]] == "legacy"
    assert await ops.restore(old["id"], tmp_path) == b"legacy era" * 500
    assert await ops.restore(new["id"], tmp_path) == b"multi-region era" * 500

    status = wallet_status(engine, settings, legacy.tenant_id)
    assert status["stack_version"] == 2 and not status["upgrade_available"]
    with session_scope(engine) as session:
        gens = session.exec(select(KeyBinding).where(
            KeyBinding.tenant_id == legacy.tenant_id)).all()
        assert sorted((b.generation, b.template_version) for b in gens) == [(1, 1), (2, 2)]
        assert audit.verify(session, legacy.tenant_id).ok

    again = await ops.migrate()  # migrating twice does nothing the second time
    assert again["migrated"] is False


async def test_migration_refused_while_legacy_key_pending_deletion(
        ops: Ops, worker: Any, legacy: LegacyTenant, settings: Settings,
        engine: Engine) -> None:
    kms = boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        "kms", region_name="us-east-1", endpoint_url=settings.aws_endpoint_url)
    kms.schedule_key_deletion(KeyId=legacy.key_arn.rsplit("/", 1)[1], PendingWindowInDays=7)
    with pytest.raises(ByokError) as info:
        await ops.migrate()
    assert info.value.code == "KEY_PENDING_DELETION"
    assert "cancel the deletion" in info.value.message
    await ops.result()
    with session_scope(engine) as session:
        tokens = session.exec(select(EnableToken).where(
            EnableToken.tenant_id == legacy.tenant_id, EnableToken.purpose == "upgrade")).all()
        assert [t.voided_at is not None for t in tokens] == [True]
        assert len(session.exec(select(KeyBinding)).all()) == 1


async def test_migration_resumes_after_worker_restart(
        ops: Ops, temporal_env: Any, settings: Settings, engine: Engine, aws: Any) -> None:
    def worker_without_cache(pool: ThreadPoolExecutor) -> Worker:
        # No sticky cache: the time-skipping test server does not move a dead worker's
        # sticky tasks back to the shared queue, as a real server does after its timeout.
        return Worker(temporal_env.client, task_queue=settings.task_queue, workflows=WORKFLOWS,
                      activities=activities(settings, engine, aws), activity_executor=pool,
                      max_cached_workflows=0)

    with ThreadPoolExecutor(8) as pool:
        async with worker_without_cache(pool):
            issued = await ops.migrate()
    # The worker is gone while the workflow waits for the stack; a new one takes over (the
    # report is delivered by update, which a running worker acknowledges).
    with ThreadPoolExecutor(8) as pool:
        async with worker_without_cache(pool):
            await ops.upgrade_stack(issued)
            view = await ops.result()
    assert view.state == "Enabled" and view.stack_version == 2


async def test_legacy_key_lost_after_migration_is_detected_with_its_own_blast_radius(
        ops: Ops, worker: Any, legacy: LegacyTenant, engine: Engine, settings: Settings,
        tmp_path: Path) -> None:
    import secrets

    from byok import health_alerts
    from byok.health_messages import HealthCheckInput
    from workflows.key_health import KeyHealthWorkflow

    old = [await ops.backup(b"old %d" % i * 300, tmp_path) for i in range(2)]
    issued = await ops.migrate()
    await ops.upgrade_stack(issued)
    view = await ops.result()
    new = await ops.backup(b"new" * 300, tmp_path)
    kms = boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        "kms", region_name="us-east-1", endpoint_url=settings.aws_endpoint_url)
    kms.disable_key(KeyId=legacy.key_arn.rsplit("/", 1)[1])

    await ops.env.client.execute_workflow(
        KeyHealthWorkflow.run, HealthCheckInput(legacy.tenant_id, "test", False),
        id=f"check-{secrets.token_hex(4)}", task_queue=settings.task_queue)
    with session_scope(engine) as session:
        health = health_alerts.view(session, legacy.tenant_id, alerts=10)
    legacy_rows = [r for r in health["regions"] if r["key_arn"] == legacy.key_arn]
    assert [r["state"] for r in legacy_rows] == ["Unavailable"]
    assert legacy_rows[0]["findings"][0]["code"] == "KEY_DISABLED"
    current = [r for r in health["regions"] if r["generation"] == 2]
    assert current and all(r["state"] == "Healthy" for r in current)
    [radius] = [e for e in health["blast_radius"] if e["key_arn"] == legacy.key_arn]
    assert radius["backups"] == len(old)  # exactly the backups made under the legacy key
    assert radius["bytes"] == sum(b["plaintext_size"] for b in old)
    [alert] = health["alerts"]
    assert legacy.key_arn in alert["message"] and "At stake: 2 backups" in alert["message"]
    # New backups continue on the new key, which is healthy.
    more = await ops.backup(b"still going" * 300, tmp_path)
    assert more["key_arn"] == view.key_arn and new["key_arn"] == view.key_arn


async def test_upgraded_stack_reports_through_the_queue_and_completes_on_our_answer(
        ops: Ops, consumer: Any, legacy: LegacyTenant, engine: Engine, settings: Settings,
        localaws: Any) -> None:
    issued = await ops.migrate()
    report = await asyncio.to_thread(
        deploy_stack, settings, account_id=TENANT_ACCOUNT, token=issued["token"],
        external_id=issued["external_id"], upgrade=True)  # waits for our answer
    view = await ops.result()
    assert view.state == "Enabled" and view.stack_version == 2, view
    cf = tenant_session(TENANT_ACCOUNT).client("cloudformation", region_name="us-east-1",
                                               endpoint_url=settings.aws_endpoint_url)
    assert cf.describe_stacks()["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    answers = [r["response"] for r in localaws.cfn_responses() if r["used"]]
    assert [a["Status"] for a in answers] == ["SUCCESS"]
    assert answers[0]["Data"]["RoleArn"] == report["role_arn"]
