"""Enablement under faults: a worker killed mid-workflow, throttling, a tenant who never
deploys, a lost callback. Real workflows and activities against localaws."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.worker import Worker

from byok.messages import ReplicaInput, ReplicaResult
from byok.settings import Settings
from control.enablement import deliver_callback, start_enable
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS
from tests.workflows.enable_helpers import (
    audit_actions,
    bindings,
    in_thread,
    private_time_skipping_env,
    result,
    tenant_client,
    tenant_keys,
    token_row,
    wallet,
)
from worker import WORKFLOWS, activities, build_worker

WALLET_STEPS = ("wallet.token_issued", "wallet.callback_received", "wallet.verifying_role",
                "wallet.verifying_key", "wallet.replicating", "wallet.binding_frozen",
                "wallet.enabled")


async def _start(client: Any, engine: Engine, settings: Settings, tenant: str) -> Any:
    return await start_enable(engine, settings, lazy(client), tenant=tenant,
                              account="444455556666", accept_irretrievable=True,
                              accept_immutable=True, actor="test")


def _assert_enabled_once(view: Any, engine: Engine, settings: Settings, tenant: str) -> None:
    """Enabled with one key, one replica per other region, one binding, each event once."""
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert sorted(view.replica_key_arns) == sorted(REGIONS[1:]) and view.key_errors == {}
    key_id = view.key_arn.rsplit("/", 1)[1]
    for region in REGIONS:
        assert tenant_keys(settings, region) == [key_id], region
    [binding] = bindings(engine, tenant)
    assert binding.key_arn == view.key_arn and binding.replica_key_arns == view.replica_key_arns
    counts = audit_actions(engine, tenant)  # also verifies the hash chain
    for action in WALLET_STEPS:
        assert counts[action] == 1, (action, counts)
    assert {a for a in counts if a.startswith("wallet.")} == set(WALLET_STEPS), counts


async def test_worker_killed_mid_replication_finishes_once(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str,
        deploy: Any) -> None:
    from activities.kms import KmsActivities

    real = KmsActivities(aws, engine).replicate_key
    victim = "eu-west-1"
    attempts: Counter[str] = Counter()
    reached, release = threading.Event(), threading.Event()

    @activity.defn(name="replicate_key")
    def replicate_key(inp: ReplicaInput) -> ReplicaResult:
        attempts[inp.region] += 1
        out: ReplicaResult = real(inp)  # the replica really gets created...
        if inp.region == victim and attempts[victim] == 1:
            reached.set()  # ...and then the worker dies before it can report the result
            release.wait(30)
            raise RuntimeError("worker process killed")
        return out

    first = [a for a in activities(settings, engine, aws)
             if getattr(a, "__name__", "") != "replicate_key"] + [replicate_key]
    client = temporal_env.client
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with Worker(client, task_queue=settings.task_queue, workflows=WORKFLOWS,
                          activities=first, activity_executor=executor,
                          max_concurrent_activities=16,
                          # No sticky queue: the time-skipping test server left the next task
                          # on the dead worker's sticky queue (result() then gave up).
                          max_cached_workflows=0):
            issued = await _start(client, engine, settings, tenant)
            payload = await deploy(issued)
            await deliver_callback(engine, lazy(client), payload)
            assert await in_thread(reached.wait, 60)
            # Shutting down waits for running activities: let the doomed one end meanwhile.
            asyncio.get_running_loop().call_later(0.3, release.set)
        assert wallet(engine, tenant).state == "Waiting"
        async with build_worker(client, settings, engine, aws, executor):
            view = await result(temporal_env, issued.workflow_id)
    assert attempts[victim] == 1  # the retry ran on the new worker, not the wrapper
    await in_thread(_assert_enabled_once, view, engine, settings, tenant)


async def test_throttling_during_verification_and_replication_is_retried(
        temporal_env: Any, engine: Engine, settings: Settings, localaws: Any, tenant: str,
        enable: Any, deploy: Any) -> None:
    issued = await enable(tenant)
    payload = await deploy(issued)
    for service, operation in (("sts", "AssumeRole"), ("kms", "DescribeKey"),
                               ("kms", "GenerateDataKey"), ("kms", "Decrypt"),
                               ("kms", "ReplicateKey")):
        localaws.inject_fault(service, operation, "ThrottlingException", count=2)
    try:
        await deliver_callback(engine, lazy(temporal_env.client), payload)
        view = await result(temporal_env, issued.workflow_id)
        left = [f for f in localaws.faults() if f["count"]]
    finally:
        localaws.clear_faults()
    assert left == [], left  # every injected throttle was hit
    await in_thread(_assert_enabled_once, view, engine, settings, tenant)


async def test_tenant_never_deploys_token_expires_then_a_new_enable_works(
        engine: Engine, settings: Settings, aws: Any, tenant: str, deploy: Any) -> None:
    # Days of skipped time on a server of our own: the session's test server keeps its clock.
    patient = settings
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, patient, engine, aws, executor):
                issued = await _start(env.client, engine, patient, tenant)
                view = await result(env, issued.workflow_id)
                assert (view.state, view.error_code) == ("Error", "TOKEN_EXPIRED")
                assert "new token" in (view.error_message or "")
                row = wallet(engine, tenant)
                assert (row.state, row.error_code) == ("Error", "TOKEN_EXPIRED")
                assert token_row(engine, issued.token).voided_at is not None
                assert bindings(engine, tenant) == []
                # The voided token is refused even though its wall-clock expiry is ahead.
                late = await deploy(issued)
                try:
                    await deliver_callback(engine, lazy(env.client), late)
                except Exception as exc:  # noqa: BLE001 - asserted below
                    refused: Exception | None = exc
                else:
                    refused = None
                assert refused is not None and "voided" in str(refused)

                again = await _start(env.client, engine, patient, tenant)
                assert again.token != issued.token and wallet(engine, tenant).state == "Waiting"
                payload = await deploy(again, upgrade=True)
                await deliver_callback(engine, lazy(env.client), payload)
                view = await result(env, again.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert len(bindings(engine, tenant)) == 1
    counts = audit_actions(engine, tenant)
    assert counts["wallet.failed"] == 1 and counts["wallet.enabled"] == 1


async def test_a_request_waits_in_the_queue_until_a_consumer_runs(
        engine: Engine, settings: Settings, aws: Any, tenant: str, deploy: Any) -> None:
    """No consumer while the stack reports (down, or being deployed): the request waits in
    SQS and is delivered when one starts; the stack then completes on our answer."""
    from control.consumer import CallbackConsumer

    # A server of our own: runs other tests left waiting could hold up its time skipping.
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, settings, engine, aws, executor):
                issued = await _start(env.client, engine, settings, tenant)
                await deploy(issued)  # the request is in the queue; nobody reads it yet
                consumer = CallbackConsumer(env.client, engine, settings, aws.service("sqs"))
                outcomes = await consumer.poll_once(wait_seconds=5)
                assert [(o.tenant_id, o.delivered) for o in outcomes] == [(tenant, True)]
                view = await result(env, issued.workflow_id)
    await in_thread(_assert_enabled_once, view, engine, settings, tenant)
    assert token_row(engine, issued.token).used_at is not None
    progress = [p["step"] for p in wallet(engine, tenant).progress]
    assert progress[0] == "waiting_for_stack" and progress[-1] == "enabled"
    status = tenant_client(settings, "cloudformation").describe_stacks()["Stacks"][0]
    assert status["StackStatus"] == "CREATE_COMPLETE"
