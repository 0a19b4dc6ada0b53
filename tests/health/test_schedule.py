"""The key-health Temporal Schedule on a real dev server (the test server has no Schedules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from activities.health_schedule import ensure_health_schedule
from byok.codec import data_converter
from byok.health_messages import schedule_id
from byok.settings import Settings, load_settings
from tests.conftest import VENV_BIN
from tests.connect_helpers import request_connection


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(load_settings().payload_keys),
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


async def test_audit_anchor_schedule_is_kept_and_a_pause_survives(
        dev_server: Any, settings: Settings) -> None:
    from workflows.audit_anchor import SCHEDULE_ID, ensure_anchor_schedule

    client = dev_server.client
    assert await ensure_anchor_schedule(client, settings) == SCHEDULE_ID
    handle = client.get_schedule_handle(SCHEDULE_ID)
    desc = await handle.describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(hours=1)
    action = desc.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "AuditAnchorWorkflow"
    await handle.pause(note="paused by an operator")
    sooner = settings.model_copy(update={"audit_anchor_interval_seconds": 600})
    await ensure_anchor_schedule(client, sooner)  # a second worker starting: no error
    desc = await handle.describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(minutes=10)
    assert desc.schedule.state.paused


async def test_enabled_tenant_gets_its_schedule_and_it_runs_checks(
        dev_server: Any, settings: Settings, engine: Any, aws: Any) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from byok import crud
    from byok.db import session_scope
    from byok.models import TenantHealth
    from control.enablement import deliver_callback, start_enable
    from starter.customer import deploy_stack
    from tests.conftest import TENANT_ACCOUNT
    from tests.lazy import lazy
    from worker import build_worker
    from workflows.enable_byok import EnableByokWorkflow

    client = dev_server.client
    settings = settings.model_copy(update={"health_schedule": "tenant"})
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT,
                             regions=["us-east-1", "us-west-2"])
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(client, settings, engine, aws, executor):
            issued = await start_enable(engine, settings, lazy(client), tenant=t.id,
                                        account=TENANT_ACCOUNT, accept_irretrievable=True,
                                        accept_immutable=True, actor="test")
            payload = await asyncio.to_thread(deploy_stack, settings, token=issued.token,
                                              account_id=TENANT_ACCOUNT, wait=False,
                                              external_id=issued.external_id)
            await deliver_callback(engine, lazy(client), payload)
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


async def test_one_sweep_schedule_checks_every_tenant(
        dev_server: Any, settings: Settings, engine: Any, aws: Any) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sqlmodel import select

    from activities.health_sweep_schedule import SWEEP_SCHEDULE_ID, ensure_sweep_schedule
    from byok.db import session_scope
    from byok.models import TenantHealth
    from starter.health_seed import seed_tenant
    from worker import build_worker

    client = dev_server.client
    tenants = {seed_tenant(engine, settings, n, prefix="sched") for n in range(3)}
    assert await ensure_sweep_schedule(client, settings) == SWEEP_SCHEDULE_ID
    await ensure_sweep_schedule(client, settings)  # idempotent
    handle = client.get_schedule_handle(SWEEP_SCHEDULE_ID)
    desc = await handle.describe()
    action = desc.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "HealthSweepWorkflow" and action.task_queue == settings.task_queue
    assert desc.schedule.spec.intervals[0].every == timedelta(seconds=300)
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(client, settings, engine, aws, executor):
            await handle.trigger()
            for _ in range(150):
                with session_scope(engine) as session:
                    rows = session.exec(select(TenantHealth)).all()
                if len(rows) == len(tenants):
                    break
                await asyncio.sleep(0.2)
    assert {r.tenant_id for r in rows} == tenants and {r.state for r in rows} == {"Healthy"}
    assert all(r.last_check_id and r.last_check_id.startswith(SWEEP_SCHEDULE_ID)
               for r in rows)


async def test_a_server_without_schedules_fails_the_step_loudly(
        temporal_env: Any, settings: Settings) -> None:
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.health_schedule import HealthScheduleActivities
    from byok.messages import TenantRef

    for mode in ("sweep", "tenant"):
        acts = HealthScheduleActivities(settings.model_copy(update={"health_schedule": mode}))
        with pytest.raises(ApplicationError) as info:
            await ActivityEnvironment(client=temporal_env.client).run(acts.ensure,
                                                                      TenantRef("t-1"))
        assert info.value.type == "HealthScheduleUnavailable" and info.value.non_retryable


async def test_tenant_delete_deletes_its_schedule(dev_server: Any, settings: Settings,
                                                  engine: Any) -> None:
    from temporalio.service import RPCError, RPCStatusCode

    from byok import crud
    from byok.db import session_scope
    from control.tenants import delete_tenant
    from tests.lazy import lazy

    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="leaving")
    client = dev_server.client
    await ensure_health_schedule(client, settings, t.id)
    out = await delete_tenant(engine, lazy(client), t.id, force=False, actor="test")
    assert out["schedule"] == "deleted"
    with pytest.raises(RPCError) as info:
        await client.get_schedule_handle(schedule_id(t.id)).describe()
    assert info.value.status == RPCStatusCode.NOT_FOUND
