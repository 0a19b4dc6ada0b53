"""Enablement against AWS's eventual consistency: a role, key or replica just created answers
NotFound/AccessDenied for a while (tolerated for a bounded time, then a permanent error);
replicas are Creating before Enabled (the binding is frozen only after); a region not enabled
in the tenant's account is a per-region REGION_NOT_ENABLED, never ACCOUNT_LOST."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from byok.aws import AwsClients
from byok.settings import Settings
from control.enablement import start_enable
from tests.conftest import TENANT_ACCOUNT
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS
from tests.workflows.enable_helpers import (
    assert_refused,
    bindings,
    consuming,
    in_thread,
    result,
    tenant_client,
    until_delivered,
    wallet,
)
from worker import build_worker


@pytest.fixture
def patient(settings: Settings) -> Settings:
    return settings.model_copy(update={"aws_consistency_seconds": 20})


@pytest.fixture
async def patient_worker(temporal_env: Any, patient: Settings, engine: Engine,
                         aws: Any) -> AsyncIterator[Any]:
    """The real worker, tolerating 20 s of inconsistency (the `aws` fixture reset localaws),
    and the stack-callback consumer (its service-role credentials taken before any lag)."""
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(temporal_env.client, patient, engine, AwsClients(patient),
                                executor) as w, \
                consuming(temporal_env.client, engine, patient, AwsClients(patient)):
            yield w


@pytest.fixture(autouse=True)
def _consistent_afterwards(localaws: Any) -> Any:
    yield
    localaws.reset()  # the next test starts with the defaults


async def _enable(env: Any, engine: Engine, settings: Settings, tenant: str,
                  deploy: Any) -> Any:
    issued = await start_enable(engine, settings, lazy(env.client), tenant=tenant,
                                        account=TENANT_ACCOUNT, accept_irretrievable=True,
                                        accept_immutable=True, actor="test")
    await deploy(issued)  # the stack reports through SNS, SQS and the consumer
    await until_delivered(engine, issued.token)
    return issued


def _replica_states(settings: Settings, key_arn: str) -> dict[str, str]:
    return {r: tenant_client(settings, "kms", r).describe_key(KeyId=key_arn)["KeyMetadata"]
            ["KeyState"] for r in REGIONS[1:]}


async def test_new_role_key_and_replicas_not_yet_visible_are_waited_for(
        temporal_env: Any, engine: Engine, patient: Settings, localaws: Any, tenant: str,
        deploy: Any, patient_worker: Any) -> None:
    localaws.consistency(role_seconds=3, key_seconds=3, replica_seconds=3)
    issued = await _enable(temporal_env, engine, patient, tenant, deploy)
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert sorted(view.replica_key_arns) == sorted(REGIONS[1:]) and view.key_errors == {}
    assert await in_thread(_replica_states, patient, view.key_arn) == {
        r: "Enabled" for r in REGIONS[1:]}


@pytest.mark.parametrize(("lag", "code", "needle"), [
    ("role_seconds", "ROLE_NOT_ASSUMABLE", "cannot assume role"),
    ("key_seconds", "KEY_NOT_FOUND", "does not exist"),
])
async def test_a_role_or_key_still_missing_after_the_tolerance_is_a_permanent_error(
        temporal_env: Any, engine: Engine, settings: Settings, localaws: Any, tenant: str,
        deploy: Any, consumer: Any, lag: str, code: str, needle: str) -> None:
    localaws.consistency(**{lag: 600})  # far beyond the 2 s these tests tolerate
    issued = await _enable(temporal_env, engine, settings, tenant, deploy)
    view = await result(temporal_env, issued.workflow_id)
    assert_refused(view, engine, tenant, code, needle)


async def test_the_binding_is_frozen_only_once_every_replica_is_enabled(
        temporal_env: Any, engine: Engine, patient: Settings, localaws: Any, tenant: str,
        deploy: Any, patient_worker: Any) -> None:
    localaws.consistency(replica_creating_seconds=3600)  # on localaws's clock
    issued = await _enable(temporal_env, engine, patient, tenant, deploy)
    handle = temporal_env.client.get_workflow_handle(issued.workflow_id)
    for _ in range(200):
        row = await in_thread(wallet, engine, tenant)
        creating = {}
        if row.progress and row.progress[-1]["step"] == "replicating":
            primary = tenant_client(patient, "kms").list_keys()["Keys"]
            if primary:
                creating = await in_thread(_replica_states, patient, primary[0]["KeyArn"])
        if creating and set(creating.values()) == {"Creating"}:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the replicas never showed as Creating")
    await asyncio.sleep(1)  # the workflow is waiting, not freezing
    assert bindings(engine, tenant) == [] and wallet(engine, tenant).state == "Waiting"
    assert (await handle.describe()).status.name == "RUNNING"
    localaws.advance_clock(seconds=3601)
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    [binding] = bindings(engine, tenant)
    assert sorted(binding.replica_key_arns) == sorted(REGIONS[1:])


async def test_a_region_not_enabled_in_the_account_is_a_per_region_error(
        temporal_env: Any, engine: Engine, settings: Settings, localaws: Any, tenant: str,
        deploy: Any, consumer: Any) -> None:
    localaws.disable_region(TENANT_ACCOUNT, "eu-west-1")
    issued = await _enable(temporal_env, engine, settings, tenant, deploy)
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert sorted(view.replica_key_arns) == ["us-west-2"]
    error = view.key_errors["eu-west-1"]
    assert error["code"] == "REGION_NOT_ENABLED" and "not enabled" in error["message"]
    assert "ACCOUNT_LOST" not in str(view.key_errors)
    assert wallet(engine, tenant).key_errors == view.key_errors
