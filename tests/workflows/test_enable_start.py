"""The start of an enablement commits nothing that a failed start leaves behind: the token
and the wallet are committed only after the workflow started, and the workflow's first
step waits for them."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio import client as tc
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

import control.enablement as control_enablement
from byok import crud, enablement
from byok.codec import data_converter
from byok.db import session_scope
from byok.settings import Settings
from control.enablement import start_enable
from tests.conftest import TENANT_ACCOUNT
from tests.lazy import lazy
from tests.workflows.enable_helpers import snapshot, terminate, wallet
from workflows.enable_byok import EnableByokWorkflow


class _StartFails(tc.Interceptor):
    def intercept_client(self, next: tc.OutboundInterceptor) -> tc.OutboundInterceptor:
        return _Outbound(next)


class _Outbound(tc.OutboundInterceptor):
    async def start_workflow(self, input: tc.StartWorkflowInput) -> Any:
        raise RPCError("connection reset by peer", RPCStatusCode.UNAVAILABLE, b"")


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _failing_client(how: str, env: Any, settings: Settings) -> tc.Client:
    if how == "dead port":  # connects on first use, to a port nobody listens on
        return await tc.Client.connect(f"127.0.0.1:{_dead_port()}", lazy=True,
                                       data_converter=data_converter(settings.payload_keys))
    config = env.client.config()
    config["interceptors"] = [_StartFails()]
    return tc.Client(**config)


async def _enable(engine: Engine, settings: Settings, client: Any, tenant: str) -> Any:
    return await start_enable(engine, settings, lazy(client), tenant=tenant,
                              account=TENANT_ACCOUNT, accept_irretrievable=True,
                              accept_immutable=True, actor="test")


@pytest.mark.parametrize("how", ["dead port", "rpc error"])
async def test_a_failed_start_leaves_no_token_and_no_wallet_change(
        how: str, temporal_env: Any, worker: Any, engine: Engine, settings: Settings,
        tenant: str) -> None:
    before = snapshot(engine, tenant)
    # A lazy client's failed connect comes as the bridge's RuntimeError, the rest as RPCError.
    with pytest.raises(RuntimeError if how == "dead port" else RPCError):
        await _enable(engine, settings, await _failing_client(how, temporal_env, settings),
                      tenant)
    assert snapshot(engine, tenant) == before  # no token, no wallet, no audit event
    # ...so the tenant can start again at once (not "already waiting for its stack").
    issued = await _enable(engine, settings, temporal_env.client, tenant)
    assert wallet(engine, tenant).state == "Waiting"
    await terminate(temporal_env.client, issued.workflow_id)


async def test_a_start_whose_commit_fails_ends_the_run_and_stores_nothing(
        temporal_env: Any, worker: Any, engine: Engine, settings: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(engine, tenant)

    def database_gone(*args: Any) -> None:
        raise RuntimeError("the database went away")
    monkeypatch.setattr(control_enablement.enablement, "record", database_gone)
    with pytest.raises(RuntimeError):
        await _enable(engine, settings, temporal_env.client, tenant)
    assert snapshot(engine, tenant) == before
    desc = await temporal_env.client.get_workflow_handle(
        enablement.workflow_id_for(tenant)).describe()
    assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED


async def test_the_workflow_waits_for_a_token_not_yet_committed(
        temporal_env: Any, worker: Any, engine: Engine, settings: Settings,
        tenant: str) -> None:
    with session_scope(engine) as session:
        issued = enablement.prepare(session, settings, crud.get_tenant(session, ref=tenant),
                                    TENANT_ACCOUNT, accept_irretrievable=True,
                                    accept_immutable=True)
    handle = await control_enablement._start_stack_workflow(
        temporal_env.client, settings, EnableByokWorkflow.run, issued, "test", "an enablement",
        "ENABLE_IN_PROGRESS")
    for _ in range(200):  # the first step retries, the run does not fail
        desc = await handle.describe()
        pending = desc.raw_description.pending_activities
        if pending and pending[0].attempt >= 2:
            break
        await asyncio.sleep(0.05)
    assert pending[0].activity_type.name == "preflight"
    # The message is encrypted by the codec; the type is not.
    assert pending[0].last_failure.application_failure_info.type == "NotYetRecorded"
    assert desc.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    with session_scope(engine) as session:
        enablement.record(session, issued, "test")
    for _ in range(400):
        history = await handle.fetch_history()
        if any(e.HasField("activity_task_completed_event_attributes") for e in history.events):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("preflight never completed after the token was committed")
    assert (await handle.describe()).status == \
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    await terminate(temporal_env.client, issued.workflow_id)
