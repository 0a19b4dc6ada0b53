"""When AWS keeps failing past every retry, each workflow still ends with the database telling
the truth: the wallet in Error (code, message) with a new enablement allowed, a backup or restore
`failed` with a reason, an audit event; a consumer that cannot read the callback queue only
delays the delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine
from sqlmodel import select

import byok.aws as aws_module
from byok.db import session_scope
from byok.errors import ByokError
from byok.models import Restore
from byok.settings import Settings
from control.backups import run_backup
from control.catalog import list_backups
from control.consumer import CallbackConsumer
from control.enablement import start_enable, start_migration
from control.restores import run_restore
from starter.customer import deploy_stack
from starter.legacy import create_legacy_tenant
from tests.conftest import SERVICE_ACCOUNT, TENANT_ACCOUNT
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS
from tests.workflows.enable_helpers import (
    audit_actions,
    bindings,
    consuming,
    in_thread,
    private_time_skipping_env,
    result,
    tenant_client,
    token_row,
    until_delivered,
    wallet,
)
from worker import build_worker
from workflows.migrate_byok import MigrateByokWorkflow


@pytest.fixture(autouse=True)
def _one_http_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's own retries off: every throttle reaches Temporal's retry policy at once."""
    monkeypatch.setattr(aws_module, "RETRY_CONFIG",
                        Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.fixture
def outage(localaws: Any) -> Iterator[Any]:
    """Faults that never run out (rate 1: every matching request), cleared afterwards."""
    def inject(service: str, operation: str, account: str | None = None) -> None:
        localaws.inject_fault(service, operation, "ThrottlingException", rate=1.0,
                              account=account)
    yield inject
    localaws.clear_faults()


@pytest.fixture
async def env(settings: Settings, engine: Engine, aws: Any) -> AsyncIterator[Any]:
    """A private time-skipping server (hours of retry backoff skipped) with the real worker and
    the stack-callback consumer."""
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, settings, engine, aws, executor), \
                    consuming(env.client, engine, settings, aws):
                yield env


async def _start(env: Any, engine: Engine, settings: Settings, tenant: str) -> Any:
    return await start_enable(engine, settings, lazy(env.client), tenant=tenant,
                                      account=TENANT_ACCOUNT, accept_irretrievable=True,
                                      accept_immutable=True, actor="test")


async def test_enablement_whose_aws_retries_run_out_ends_in_error_and_can_start_over(
        env: Any, engine: Engine, settings: Settings, tenant: str, deploy: Any,
        outage: Any, localaws: Any) -> None:
    issued = await _start(env, engine, settings, tenant)
    outage("sts", "AssumeRole", SERVICE_ACCOUNT)  # verifying the role never gets through
    await deploy(issued)  # the stack reports through SNS, SQS and the consumer
    await until_delivered(engine, issued.token)
    view = await result(env, issued.workflow_id)
    assert (view.state, view.error_code) == ("Error", "AWS_UNAVAILABLE")
    message = view.error_message or ""
    assert "THROTTLED" in message and "start again" in message
    row = wallet(engine, tenant)
    assert (row.state, row.error_code, row.error_message) == ("Error", "AWS_UNAVAILABLE",
                                                              view.error_message)
    assert token_row(engine, issued.token).voided_at is not None
    assert bindings(engine, tenant) == []
    counts = audit_actions(engine, tenant)
    assert counts["wallet.failed"] == 1 and counts["wallet.enabled"] == 0
    # We answered FAILED: the stack rolled back; the tenant deletes it to start over.
    await in_thread(_delete_settled_stack, settings)

    # AWS answers again: a new enablement is allowed at once and goes through.
    localaws.clear_faults()
    again = await _start(env, engine, settings, tenant)
    assert again.token != issued.token and wallet(engine, tenant).state == "Waiting"
    await deploy(again)
    await until_delivered(engine, again.token)
    view = await result(env, again.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)


async def test_a_consumer_that_cannot_read_the_queue_only_delays_the_delivery(
        env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str, deploy: Any,
        outage: Any, localaws: Any) -> None:
    outage("sqs", "ReceiveMessage")  # every read of the callback queue fails
    await asyncio.sleep(1.5)  # a long poll already waiting (1 s) ends first
    issued = await _start(env, engine, settings, tenant)
    await deploy(issued)
    with pytest.raises(ClientError):  # what the running consumer meets on each poll
        await CallbackConsumer(env.client, engine, settings,
                               aws.service("sqs")).poll_once(wait_seconds=0)
    await asyncio.sleep(2)  # the running consumer keeps failing meanwhile
    handle = env.client.get_workflow_handle(issued.workflow_id)
    assert (await handle.describe()).status.name == "RUNNING"
    assert wallet(engine, tenant).state == "Waiting"
    assert token_row(engine, issued.token).used_at is None
    localaws.clear_faults()
    # The request waited in the queue: delivered once the consumer reads again.
    await until_delivered(engine, issued.token)
    view = await result(env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)


def _delete_settled_stack(settings: Settings) -> None:
    """Once CloudFormation finished with the stack, delete it (as the tenant would)."""
    cf = tenant_client(settings, "cloudformation")
    for _ in range(240):
        [stack] = cf.describe_stacks()["Stacks"]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.25)
    cf.delete_stack(StackName=stack["StackName"])
    for _ in range(240):
        alive = [s for s in cf.describe_stacks()["Stacks"]
                 if s["StackStatus"] != "DELETE_COMPLETE"]
        if not alive:
            return
        time.sleep(0.25)
    raise AssertionError(f"stack not deleted: {alive}")


async def test_migration_whose_aws_retries_run_out_records_the_error_and_keeps_the_old_key(
        env: Any, engine: Engine, settings: Settings, aws: Any, outage: Any,
        localaws: Any) -> None:
    legacy = create_legacy_tenant(settings, engine, name="oldco", account_id=TENANT_ACCOUNT,
                                  regions=REGIONS)
    issued = await start_migration(engine, settings, lazy(env.client),
                                           tenant=legacy.tenant_id, actor="test")
    outage("sts", "AssumeRole", SERVICE_ACCOUNT)
    await deploy_upgrade(settings, issued)  # reports through the queue
    await until_delivered(engine, issued["token"])
    handle = env.client.get_workflow_handle_for(MigrateByokWorkflow.run,
                                                f"migrate-byok-{legacy.tenant_id}")
    async with env.time_skipping_unlocked():
        view = await handle.result()
    assert (view.step, view.error_code) == ("failed", "AWS_UNAVAILABLE")
    row = wallet(engine, legacy.tenant_id)
    # The legacy binding keeps working for backups; the failure is on the wallet to read.
    assert (row.state, row.error_code) == ("Enabled", "AWS_UNAVAILABLE")
    assert [b.template_version for b in bindings(engine, legacy.tenant_id)] == [1]
    assert audit_actions(engine, legacy.tenant_id)["migration.failed"] == 1
    localaws.clear_faults()
    again = await start_migration(engine, settings, lazy(env.client),
                                          tenant=legacy.tenant_id, actor="test")
    assert again["migrated"] and again["token"] != issued["token"]


async def deploy_upgrade(settings: Settings, issued: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        deploy_stack, settings, account_id=issued["account_native_id"], token=issued["token"],
        external_id=issued["external_id"], upgrade=True, wait=False)


async def test_backup_and_restore_whose_transfer_retries_run_out_end_failed_with_a_reason(
        env: Any, engine: Engine, settings: Settings, tenant: str, outage: Any,
        localaws: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"never written" * 1000)
    outage("kms", "GenerateDataKey")
    with pytest.raises(ByokError) as info:
        await run_backup(engine, settings, lazy(env.client), tenant=tenant,
                                 workload="sql_ec2", source=f"file://{src}", region=None,
                                 actor="test")
    assert info.value.code == "TRANSFER_FAILED"
    [row] = list_backups(engine, tenant)
    assert row["status"] == "failed" and row["error"].startswith("TRANSFER_FAILED: ")
    assert "THROTTLED" in row["error"]
    assert audit_actions(engine, tenant)["backup.failed"] == 1

    localaws.clear_faults()
    made = await run_backup(engine, settings, lazy(env.client), tenant=tenant,
                                    workload="sql_ec2", source=f"file://{src}", region=None,
                                    actor="test")
    outage("kms", "Decrypt")
    with pytest.raises(ByokError) as info:
        await run_restore(engine, settings, lazy(env.client), tenant=tenant,
                                  backup_id=made["id"], target=str(tmp_path / "out"),
                                  force=False, actor="test")
    assert info.value.code == "TRANSFER_FAILED"
    with session_scope(engine) as session:
        [restore] = session.exec(select(Restore).where(Restore.tenant_id == tenant)).all()
        assert restore.status == "failed" and (restore.error or "").startswith("TRANSFER_FAILED")
    assert audit_actions(engine, tenant)["restore.failed"] == 1
    assert not (tmp_path / "out").exists()
