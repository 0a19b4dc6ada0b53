"""The key-health Temporal Schedule on a real dev server (the test server has no Schedules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from byok.settings import Settings
from tests.conftest import VENV_BIN
from workflows.key_health import ensure_health_schedule, schedule_id


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword("TenantId"),
                           SearchAttributeKey.for_keyword("WalletState")])
    yield env
    await env.shutdown()


async def test_schedule_is_created_then_updated_and_a_pause_survives(
        dev_server: Any, settings: Settings) -> None:
    client = dev_server.client
    assert await ensure_health_schedule(client, settings, "t-1") == schedule_id("t-1")
    await ensure_health_schedule(client, settings, "t-1")  # idempotent: no error, one schedule
    handle = client.get_schedule_handle(schedule_id("t-1"))
    desc = await handle.describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(seconds=300)
    action = desc.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "KeyHealthWorkflow" and action.task_queue == settings.task_queue
    assert desc.typed_search_attributes[SearchAttributeKey.for_keyword("TenantId")] == "t-1"
    await handle.pause(note="operator paused it in the UI")
    faster = settings.model_copy(update={"health_interval_seconds": 60})
    await ensure_health_schedule(client, faster, "t-1")
    desc = await handle.describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(seconds=60)
    assert desc.schedule.state.paused  # an update never unpauses what an operator paused


async def test_enabled_tenant_gets_its_schedule_and_it_runs_checks(
        dev_server: Any, settings: Settings, engine: Any, aws: Any) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from byok import crud
    from byok.db import session_scope
    from byok.models import TenantHealth
    from starter import actions
    from starter.customer import deploy_stack
    from tests.conftest import TENANT_ACCOUNT
    from worker import build_worker
    from workflows.enable_byok import EnableByokWorkflow

    client = dev_server.client
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        crud.connect_account(session, tenant=t, account_id=TENANT_ACCOUNT,
                             regions=["us-east-1", "us-west-2"])
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(client, settings, engine, aws, executor):
            issued = await actions.start_enable(
                client, engine, settings, tenant=t.id, account=TENANT_ACCOUNT,
                accept_irretrievable=True, accept_immutable=True, actor="test")
            payload = await asyncio.to_thread(deploy_stack, settings, token=issued.token,
                                              account_id=TENANT_ACCOUNT, wait=False,
                                              external_id=issued.external_id)
            await actions.deliver_callback(client, engine, payload)
            view = await client.get_workflow_handle_for(
                EnableByokWorkflow.run, issued.workflow_id).result()
            assert view.state == "Enabled"
            handle = client.get_schedule_handle(schedule_id(t.id))
            assert (await handle.describe()).schedule.state.paused is False
            await handle.trigger()  # as the interval would, without waiting five minutes
            for _ in range(100):
                with session_scope(engine) as session:
                    row = session.get(TenantHealth, t.id)
                if row is not None:
                    break
                await asyncio.sleep(0.2)
            assert row is not None and row.state == "Healthy"
