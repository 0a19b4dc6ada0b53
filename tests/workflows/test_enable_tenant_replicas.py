"""Tenant-managed replicas end to end on strict localaws: the tenant's stack says
ReplicaManagement=tenant (its role can neither replicate nor create keys), the tenant deploys
the replicas StackSet (byok-v2-replicas.yaml) after the stack, and the enablement waits for a
usable replica in every connected region, naming the regions still missing one."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from control.enablement import deliver_callback, start_enable
from starter.customer import deploy_replicas
from tests.conftest import TENANT_ACCOUNT
from tests.lazy import lazy
from tests.workflows.enable_helpers import (
    assert_refused,
    audit_actions,
    bindings,
    create_key,
    private_time_skipping_env,
    tenant_client,
    wallet,
)
from tests.workflows.enable_helpers import result as skipped_result
from worker import build_worker
from workflows.enable_byok import EnableByokWorkflow

OTHERS = ["eu-west-1", "us-west-2"]  # the connected regions besides the primary's


async def reported_missing(env: Any, workflow_id: str, regions: list[str]) -> Any:
    """Until the run reports exactly these regions as missing a replica (its first check)."""
    handle = env.client.get_workflow_handle_for(EnableByokWorkflow.run, workflow_id)
    for _ in range(300):
        view = await handle.query(EnableByokWorkflow.wallet)
        if view.step == "waiting_for_replicas" and sorted(view.key_errors) == sorted(regions):
            return view
        assert view.state != "Error", (view.error_code, view.error_message)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the run never reported {regions} missing: {view}")


async def until_enabled(settings: Any, arns: list[str]) -> None:
    """localaws keeps a new replica Creating for a few seconds, as AWS does: wait it out
    before time is skipped (the run's re-checks would otherwise race ahead of it)."""
    for arn in arns:
        kms = tenant_client(settings, "kms", arn.split(":")[3])
        for _ in range(300):
            state = kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
            if state == "Enabled":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the replica {arn} stayed {state}")


async def result(env: Any, workflow_id: str) -> Any:
    """The run's result while time is skipped through its re-checks. Under load the test
    server can end a long poll on the history before the run closed (the SDK then says "No
    completion event found"): ask again, the run goes on meanwhile."""
    for attempt in range(5):
        try:
            return await skipped_result(env, workflow_id)
        except RuntimeError as exc:
            if "No completion event" not in str(exc) or attempt == 4:
                raise
    raise AssertionError("unreachable")


async def after_skipping(env: Any, workflow_id: str) -> Any:
    """Skip the run's re-checks hours at a time until it closes, then its result (a closed
    run's result needs no long poll through skipped time)."""
    from temporalio.client import WorkflowExecutionStatus

    handle = env.client.get_workflow_handle_for(EnableByokWorkflow.run, workflow_id)
    for _ in range(100):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return await handle.result()
        await env.sleep(2 * 3600)
    raise AssertionError("the run was still waiting after 8 days of skipped time")


async def start_tenant_managed(temporal_env: Any, engine: Engine, tenant: str, enable: Any,
                               deploy: Any) -> tuple[Any, dict[str, Any]]:
    issued = await enable(tenant)
    payload = await deploy(issued, replica_management="tenant")
    assert payload["replica_management"] == "tenant"
    await deliver_callback(engine, lazy(temporal_env.client), payload)
    return issued, payload


def role_actions(settings: Any) -> set[str]:
    iam = tenant_client(settings, "iam")
    doc = iam.get_role_policy(RoleName="ByokVaultKMSRole", PolicyName="ByokVaultKeyAccess")
    body = doc["PolicyDocument"]
    body = json.loads(body) if isinstance(body, str) else body
    found: set[str] = set()
    for st in body["Statement"]:
        found |= {st["Action"]} if isinstance(st["Action"], str) else set(st["Action"])
    return found


async def test_tenant_replicas_reach_enabled_without_replicate_or_create(
        temporal_env: Any, engine: Engine, settings: Any, tenant: str, enable: Any,
        deploy: Any, worker: Any) -> None:
    issued, _ = await start_tenant_managed(temporal_env, engine, tenant, enable, deploy)
    # The stack made the role of the tenant option: no ReplicateKey, no CreateKey at all.
    granted = role_actions(settings)
    assert granted and not granted & {"kms:ReplicateKey", "kms:CreateKey"}

    view = await reported_missing(temporal_env, issued.workflow_id, OTHERS)
    assert {e["code"] for e in view.key_errors.values()} == {"REPLICA_MISSING"}
    assert "byok-v2-replicas.yaml" in view.key_errors["eu-west-1"]["message"]
    row = wallet(engine, tenant)
    assert row.state == "Waiting" and sorted(row.key_errors) == OTHERS
    assert row.progress[-1]["step"] == "waiting_for_replicas"

    key_arn = next(iter(bindings(engine, tenant)), None) or row.key_arn
    assert key_arn is None  # nothing frozen while a region lacks its replica
    primary = f"arn:aws:kms:us-east-1:{TENANT_ACCOUNT}:key/{payload_key(issued, engine)}"
    arns = await asyncio.to_thread(deploy_replicas, settings, account_id=TENANT_ACCOUNT,
                                   key_arn=primary, regions=OTHERS)
    assert sorted(a.split(":")[3] for a in arns) == OTHERS
    await until_enabled(settings, arns)

    done = await result(temporal_env, issued.workflow_id)
    assert done.state == "Enabled", (done.error_code, done.error_message)
    assert done.replica_key_arns == {a.split(":")[3]: a for a in arns}
    assert done.key_errors == {} and done.replica_management == "tenant"
    row = wallet(engine, tenant)
    assert row.replica_management == "tenant" and row.key_errors == {}
    (bound,) = bindings(engine, tenant)
    assert bound.key_arn == primary and bound.replica_key_arns == done.replica_key_arns
    seen = audit_actions(engine, tenant)
    assert seen["wallet.replicas_missing"] == 1 and seen["wallet.replicating"] == 0
    assert seen["wallet.checking_replicas"] == 1 and seen["wallet.enabled"] == 1


def payload_key(issued: Any, engine: Engine) -> str:
    """The key id the tenant's stack reported (its KeyArn output's id)."""
    from sqlmodel import select

    from byok.db import session_scope
    from byok.models import AuditEvent

    with session_scope(engine) as session:
        ev = session.exec(select(AuditEvent).where(
            AuditEvent.tenant_id == issued.tenant_id,
            AuditEvent.action == "wallet.verifying_key")).one()
        return str(ev.details["key_id"])


async def test_a_region_left_without_a_replica_fails_clearly(
        engine: Engine, settings: Any, tenant: str, deploy: Any, aws: Any) -> None:
    # Three days of re-checks are skipped on a server of its own: skipped on the session's,
    # they would move every later test's clock past its tokens' expiry.
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, settings, engine, aws, executor):
                async def enable(tenant_id: str) -> Any:
                    return await start_enable(
                        engine, settings, lazy(env.client), tenant=tenant_id,
                        account=TENANT_ACCOUNT, accept_irretrievable=True,
                        accept_immutable=True, actor="test")

                issued, _ = await start_tenant_managed(env, engine, tenant, enable, deploy)
                await reported_missing(env, issued.workflow_id, OTHERS)
                primary = (f"arn:aws:kms:us-east-1:{TENANT_ACCOUNT}:key/"
                           f"{payload_key(issued, engine)}")
                arns = await asyncio.to_thread(deploy_replicas, settings,
                                               account_id=TENANT_ACCOUNT, key_arn=primary,
                                               regions=["us-west-2"])
                await until_enabled(settings, arns)
                # A replica of another of the tenant's keys in eu-west-1 is not one of this.
                other = create_key(settings)
                tenant_client(settings, "kms").replicate_key(KeyId=other["KeyId"],
                                                             ReplicaRegion="eu-west-1")
                await reported_missing(env, issued.workflow_id, ["eu-west-1"])
                view = await after_skipping(env, issued.workflow_id)  # three days of checks
    assert_refused(view, engine, tenant, "REPLICAS_MISSING", "eu-west-1", "3 days",
                   "byok-v2-replicas.yaml")
    assert "us-west-2" not in (view.error_message or "")
    assert audit_actions(engine, tenant)["wallet.replicas_missing"] == 1


async def test_the_check_refuses_a_key_that_is_not_a_replica_of_the_primary(
        settings: Any, aws: Any) -> None:
    from activities.kms_replicas import TenantReplicaChecks
    from byok.errors import KeyUnusable

    ours, other = create_key(settings), create_key(settings)
    replica = tenant_client(settings, "kms").replicate_key(
        KeyId=other["KeyId"], ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
    primary = tenant_client(settings, "kms", "us-east-1").describe_key(
        KeyId=other["KeyId"])["KeyMetadata"]
    for meta, region in ((replica, "eu-west-1"), (primary, "us-east-1")):
        try:
            TenantReplicaChecks._is_replica_of(meta, ours["Arn"], region)
        except KeyUnusable as exc:
            assert exc.code == "REPLICA_OF_ANOTHER_KEY" and ours["Arn"] in exc.message
        else:
            raise AssertionError(f"{meta['Arn']} was taken for a replica of {ours['Arn']}")
    TenantReplicaChecks._is_replica_of(replica, other["Arn"], "eu-west-1")  # its own: fine


async def test_the_worker_refuses_an_unknown_replica_choice(
        temporal_env: Any, engine: Engine, tenant: str, enable: Any, worker: Any) -> None:
    # The web layer parses the choice; the workflow checks it again, since what crosses
    # Temporal is only as good as whoever wrote it.
    import dataclasses

    import pytest
    from temporalio.client import WorkflowUpdateFailedError

    from byok.messages import StackCallback

    issued = await enable(tenant)
    handle = temporal_env.client.get_workflow_handle_for(EnableByokWorkflow.run,
                                                         issued.workflow_id)
    good = StackCallback("Create", TENANT_ACCOUNT, "us-east-1",
                         f"arn:aws:iam::{TENANT_ACCOUNT}:role/ByokVaultKMSRole", "AROA1",
                         "mrk-" + "0" * 32, True, 2)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(EnableByokWorkflow.deliver_stack_callback,
                                    dataclasses.replace(good, replica_management="both"))
    assert "service or tenant" in str(info.value.cause)
    view = await handle.query(EnableByokWorkflow.wallet)
    assert view.step == "waiting_for_stack" and view.state == "Waiting"
    await handle.terminate(reason="test done")
