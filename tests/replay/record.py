"""Record the histories tests/replay replays: `python -m tests.replay.record [DIR]`.

Every workflow type in its interesting states, run for real (time-skipping test server, the
real activities, localaws, a throwaway SQLite database). Re-run it after a workflow change
that is meant to be incompatible (a deprecated patch removed); never to make CI green."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from byok.messages import BackupPlan, BackupResult, ReplicaInput, ReplicaResult
from tests.connect_helpers import request_connection

HERE = Path(__file__).resolve().parent
HISTORIES = HERE / "histories"
REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


class Gate:
    """Holds one activity at its start, once armed, so a history can be taken mid-step."""

    def __init__(self) -> None:
        self.armed, self.reached, self.release = False, threading.Event(), threading.Event()

    def arm(self) -> None:
        self.armed = True
        self.reached.clear()
        self.release.clear()

    def pass_through(self) -> None:
        if self.armed:
            self.reached.set()
            self.release.wait(60)

    def open(self) -> None:
        self.armed = False
        self.release.set()


class Recorder:
    def __init__(self, env: Any, settings: Any, engine: Any, out: Path):
        self.env, self.settings, self.engine, self.out = env, settings, engine, out
        self.written: list[str] = []

    async def save(self, name: str, workflow_id: str, run_id: str | None = None) -> None:
        history = await self.env.client.get_workflow_handle(
            workflow_id, run_id=run_id).fetch_history()
        # The workflow id goes with the history: child ids and keys derive from it.
        body = {"workflow_id": workflow_id, "history": json.loads(history.to_json())}
        (self.out / f"{name}.json").write_text(json.dumps(body, indent=1) + "\n")
        self.written.append(name)

    async def save_children(self, prefix: str, workflow_id: str) -> None:
        """The histories of the child workflows a run started (alerts, sweep checks)."""
        history = await self.env.client.get_workflow_handle(workflow_id).fetch_history()
        started = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        for event in history.events:
            if event.event_type == started:
                attrs = event.start_child_workflow_execution_initiated_event_attributes
                kind = attrs.workflow_type.name
                await self.save(f"{prefix}_child_{kind}", attrs.workflow_id)
                return

    async def result(self, workflow_id: str) -> Any:
        async with self.env.time_skipping_unlocked():
            return await self.env.client.get_workflow_handle(workflow_id).result()


async def scenarios(rec: Recorder, gates: dict[str, Gate]) -> None:
    from byok import crud, enablement
    from byok.db import session_scope
    from byok.health_messages import HealthCheckInput, SweepInput
    from byok.messages import AnchorInput
    from byok.models import EnableToken
    from control.backups import start_backup
    from control.enablement import start_enable, start_migration
    from control.restores import run_restore
    from control.wallet import wallet_status
    from starter.customer import deploy_stack, tenant_session
    from starter.legacy import create_legacy_tenant
    from tests.lazy import lazy
    from workflows.audit_anchor import AuditAnchorWorkflow
    from workflows.health_sweep import HealthSweepWorkflow
    from workflows.key_health import KeyHealthWorkflow

    env, settings, engine = rec.env, rec.settings, rec.engine

    def tenant(name: str, account: str) -> str:
        with session_scope(engine) as session:
            t = crud.create_tenant(session, name=name)
            request_connection(session, tenant=t, account_id=account, regions=REGIONS)
            return t.id

    async def enable(tenant_id: str, account: str) -> Any:
        return await start_enable(engine, settings, lazy(env.client), tenant=tenant_id,
                                          account=account, accept_irretrievable=True,
                                          accept_immutable=True, actor="recorder")

    async def deploy(account: str, token: str, external_id: str, upgrade: bool = False,
                     replica_management: str = "service") -> None:
        """The stack reports through SNS, SQS and the consumer; back once its workflow holds
        the report (the token is then used)."""
        await asyncio.to_thread(deploy_stack, settings, account_id=account, token=token,
                                external_id=external_id, upgrade=upgrade, wait=False,
                                replica_management=replica_management)
        digest = enablement.hash_secret(token)
        for _ in range(300):
            with session_scope(engine) as session:
                row = session.get(EnableToken, digest)
                if row is not None and row.used_at is not None:
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError("the stack's report never reached its workflow")

    # An enablement waiting for the stack.
    waiting = await enable(tenant("waiting", "444455556666"), "444455556666")
    await env.sleep(60)  # its first steps done, it waits for the stack
    await rec.save("enable_waiting_for_stack", waiting.workflow_id)
    # Ended now: time skipped by the scenarios below would expire its token.
    await env.client.get_workflow_handle(waiting.workflow_id).terminate(reason="recorded")

    # An enablement mid-replication, then the same run Enabled.
    account = "777788889999"
    acme = tenant("acme", account)
    issued = await enable(acme, account)
    gates["replicate_key"].arm()
    await deploy(account, issued.token, issued.external_id)
    await asyncio.to_thread(gates["replicate_key"].reached.wait, 60)
    await rec.save("enable_mid_replication", issued.workflow_id)
    gates["replicate_key"].open()
    await rec.result(issued.workflow_id)
    await rec.save("enable_enabled", issued.workflow_id)

    # Tenant-managed replicas: waiting for the tenant's StackSet, then Enabled.
    await _tenant_replicas(rec, tenant("replicas", "123412341234"), enable, deploy)

    # A backup mid-transfer, then complete; a restore of it.
    tmp = Path(tempfile.mkdtemp())
    (tmp / "src").write_bytes(os.urandom(3 << 20))
    gates["write_backup"].arm()
    started = await start_backup(engine, settings, lazy(env.client), tenant=acme,
                                 workload="sql_ec2", source=f"file://{tmp / 'src'}",
                                 region=None, actor="recorder")
    await asyncio.to_thread(gates["write_backup"].reached.wait, 60)
    await rec.save("backup_mid_transfer", started["workflow_id"])
    gates["write_backup"].open()
    await rec.result(started["workflow_id"])
    await rec.save("backup_complete", started["workflow_id"])
    done = await run_restore(engine, settings, lazy(env.client), tenant=acme,
                                     backup_id=started["backup_id"], target=str(tmp / "out"),
                                     force=False, actor="recorder")
    await rec.save("restore_complete", f"restore-{done['restore_id']}")

    # A health check that finds the primary disabled and raises an alert; a sweep.
    sweep = await env.client.execute_workflow(HealthSweepWorkflow.run, SweepInput(),
                                              id="replay-sweep", task_queue=settings.task_queue)
    del sweep
    await rec.save("health_sweep", "replay-sweep")
    kms = tenant_session(account).client("kms", region_name=settings.control_plane_region,
                                         endpoint_url=settings.aws_endpoint_url)
    view = wallet_status(engine, settings, acme)
    await asyncio.to_thread(kms.disable_key, KeyId=view["key_arn"])
    await env.client.execute_workflow(KeyHealthWorkflow.run, HealthCheckInput(acme, "recorder"),
                                      id="replay-health-alert", task_queue=settings.task_queue)
    await rec.save("health_check_alert", "replay-health-alert")
    await rec.save_children("health_check_alert", "replay-health-alert")

    # A migration from the legacy template: waiting for the upgraded stack, then done.
    legacy = await asyncio.to_thread(create_legacy_tenant, settings, engine, name="oldco",
                                     account_id="222233334444", regions=REGIONS)
    up = await start_migration(engine, settings, lazy(env.client), tenant=legacy.tenant_id,
                                       actor="recorder")
    migration_id = f"migrate-byok-{legacy.tenant_id}"
    await rec.save("migration_waiting_for_stack", migration_id)
    await deploy(up["account_native_id"], up["token"], up["external_id"], True)
    await rec.result(migration_id)
    await rec.save("migration_complete", migration_id)

    # The audit anchor the schedule runs.
    await env.client.execute_workflow(AuditAnchorWorkflow.run, AnchorInput("recorder"),
                                      id="replay-audit-anchor", task_queue=settings.task_queue)
    await rec.save("audit_anchor", "replay-audit-anchor")


async def _tenant_replicas(rec: Recorder, tenant_id: str, enable: Any, deploy: Any) -> None:
    from starter.customer import deploy_replicas
    from workflows.enable_byok import EnableByokWorkflow

    account = "123412341234"
    issued = await enable(tenant_id, account)
    await deploy(account, issued.token, issued.external_id, replica_management="tenant")
    handle = rec.env.client.get_workflow_handle_for(EnableByokWorkflow.run, issued.workflow_id)
    for _ in range(300):
        view = await handle.query(EnableByokWorkflow.wallet)
        if view.step == "waiting_for_replicas":
            break
        await asyncio.sleep(0.1)
    await rec.save("enable_tenant_replicas_waiting", issued.workflow_id)
    key_arn = f"arn:aws:kms:us-east-1:{account}:key/" + \
        (await asyncio.to_thread(_reported_key, rec, tenant_id))
    arns = await asyncio.to_thread(deploy_replicas, rec.settings, account_id=account,
                                   key_arn=key_arn, regions=REGIONS[1:])
    await asyncio.sleep(3)  # localaws keeps new replicas Creating for a few seconds
    assert len(arns) == 2
    await rec.result(issued.workflow_id)
    await rec.save("enable_tenant_replicas_enabled", issued.workflow_id)


def _reported_key(rec: Recorder, tenant_id: str) -> str:
    from sqlmodel import select

    from byok.db import session_scope
    from byok.models import AuditEvent

    with session_scope(rec.engine) as session:
        event = session.exec(select(AuditEvent).where(
            AuditEvent.tenant_id == tenant_id,
            AuditEvent.action == "wallet.verifying_key")).one()
        return str(event.details["key_id"])


async def _with_consumer(rec: Recorder, gates: dict[str, Gate], aws: Any) -> None:
    """The scenarios with the stack-callback consumer reading the queue, as in production."""
    from control.consumer import CallbackConsumer

    consumer = CallbackConsumer(rec.env.client, rec.engine, rec.settings, aws.service("sqs"))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, wait_seconds=1))
    try:
        await scenarios(rec, gates)
    finally:
        stop.set()
        await task


def _gated(real: dict[str, Any], gates: dict[str, Gate]) -> list[Any]:
    @activity.defn(name="replicate_key")
    def replicate_key(inp: ReplicaInput) -> ReplicaResult:
        gates["replicate_key"].pass_through()
        out: ReplicaResult = real["replicate_key"](inp)
        return out

    @activity.defn(name="write_backup")
    def write_backup(plan: BackupPlan) -> BackupResult:
        gates["write_backup"].pass_through()
        out: BackupResult = real["write_backup"](plan)
        return out

    return [replicate_key, write_backup]


async def record(out: Path = HISTORIES) -> list[str]:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from byok.aws import AwsClients
    from byok.db import make_engine, migrate
    from byok.settings import load_settings
    from control.service import ensure_service_resources
    from localaws import LocalAws
    from worker import TRANSFER_ACTIVITIES, WORKFLOWS, activities, activity_name

    # The process acts as the service's account on localaws, as the test fixtures do.
    os.environ.update(AWS_ACCESS_KEY_ID="111122223333", AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    out.mkdir(parents=True, exist_ok=True)
    venv_bin = HERE.parents[1] / ".venv" / "bin"
    with tempfile.TemporaryDirectory() as home, LocalAws() as aws_server:
        settings = load_settings(home=Path(home), aws_endpoint_url=aws_server.url,
                                 task_queue="replay-recorder", public_url="http://byok.test",
                                 health_schedule="off")
        engine = make_engine(settings.db_url)
        migrate(engine)
        aws = AwsClients(settings)
        ensure_service_resources(aws, settings)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(venv_bin / "temporal-test-server"),
            data_converter=pydantic_data_converter)
        keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace="default",
            search_attributes={"TenantId": keyword, "WalletState": keyword}))
        gates = {"replicate_key": Gate(), "write_backup": Gate()}
        acts = activities(settings, engine, aws)
        real = {a.__name__: a for a in acts if getattr(a, "__name__", "") in gates}
        acts = [a for a in acts if getattr(a, "__name__", "") not in gates]
        rec = Recorder(env, settings, engine, out)
        try:
            all_acts = [*acts, *_gated(real, gates)]
            moving = [a for a in all_acts if activity_name(a) in TRANSFER_ACTIVITIES]
            with ThreadPoolExecutor(max_workers=16) as executor:
                async with Worker(env.client, task_queue=settings.task_queue,
                                  workflows=WORKFLOWS, activities=all_acts,
                                  activity_executor=executor, max_concurrent_activities=16), \
                        Worker(env.client, task_queue=settings.transfer_task_queue,
                               activities=moving, activity_executor=executor):
                    await _with_consumer(rec, gates, aws)
        finally:
            for gate in gates.values():
                gate.open()
            await env.shutdown()
            engine.dispose()
    return rec.written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HISTORIES
    for name in asyncio.run(record(target)):
        print(f"recorded {target / name}.json")
