"""No wait can push a workflow past Temporal's history limit: the wait for the stack adds no
events while nothing arrives (no polling), and a run whose history grows too big continues as
new carrying its deadline and any report it received, which the next run acts on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from byok import crud, enablement
from byok.db import session_scope
from byok.errors import InvalidSettings
from byok.messages import EnableInput, WaitState
from byok.settings import Settings, load_settings
from tests.conftest import TENANT_ACCOUNT
from tests.workflows.enable_helpers import (
    consuming,
    private_time_skipping_env,
    result,
    until_delivered,
)
from worker import build_worker
from workflows.enable_byok import EnableByokWorkflow

HISTORY_LIMIT = 51_200  # Temporal's default hard limit of events per run


def test_a_token_longer_than_90_days_is_refused() -> None:
    with pytest.raises(InvalidSettings) as info:
        load_settings(token_ttl_days=91)
    assert "BYOK_TOKEN_TTL_DAYS" in info.value.message


def test_the_per_run_bound_leaves_room_below_the_limit() -> None:
    # The default per-run bound leaves room for the steps after the wait.
    assert EnableInput("t", "a", "", 1).max_run_events * 2 < HISTORY_LIMIT


def _issue(engine: Engine, settings: Settings, tenant: str) -> Any:
    with session_scope(engine) as session:
        return enablement.issue(session, settings, crud.get_tenant(session, ref=tenant),
                                TENANT_ACCOUNT, accept_irretrievable=True,
                                accept_immutable=True, actor="test")


async def test_a_90_day_wait_adds_no_events_and_the_queued_report_still_enables(
        settings: Settings, engine: Engine, aws: Any, tenant: str, deploy: Any) -> None:
    worst = settings.model_copy(update={"token_ttl_days": 90})
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, worst, engine, aws, executor):
                issued = _issue(engine, worst, tenant)
                handle = await env.client.start_workflow(
                    EnableByokWorkflow.run,
                    EnableInput(issued.tenant_id, issued.account_id,
                                issued.expires_at.isoformat(), 90 * 86400, "test"),
                    id=issued.workflow_id, task_queue=worst.task_queue)
                await env.sleep(3600)
                before = len((await handle.fetch_history()).events)
                await env.sleep(30 * 86400)  # a month of waiting
                after = (await handle.fetch_history()).events
                assert len(after) == before and before < 50, [e.event_type for e in after]
                async with consuming(env.client, engine, worst, aws):
                    await deploy(issued)
                    await until_delivered(engine, issued.token)
                    view = await result(env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)


async def test_a_report_carried_across_continue_as_new_is_acted_on(
        settings: Settings, engine: Engine, aws: Any, tenant: str, deploy: Any) -> None:
    """The run that continued as new held the report: the next run verifies and enables with
    it, without waiting for another."""
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, settings, engine, aws, executor):
                issued = _issue(engine, settings, tenant)
                payload = await deploy(issued)
                # The report as the HTTP route accepts it (token checked and consumed).
                with session_scope(engine) as session:
                    _, callback, _ = enablement.accept_callback(session, payload)
                deadline = datetime.now(UTC) + timedelta(days=1)
                await env.client.start_workflow(
                    EnableByokWorkflow.run,
                    EnableInput(issued.tenant_id, issued.account_id, deadline.isoformat(),
                                86400, "test",
                                resume=WaitState(deadline.isoformat(), callback=callback)),
                    id=issued.workflow_id, task_queue=settings.task_queue)
                view = await result(env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)


async def test_a_carried_deadline_that_passed_expires_the_token(
        settings: Settings, engine: Engine, aws: Any, tenant: str) -> None:
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, settings, engine, aws, executor):
                issued = _issue(engine, settings, tenant)
                past = datetime.now(UTC) - timedelta(minutes=1)
                await env.client.start_workflow(
                    EnableByokWorkflow.run,
                    EnableInput(issued.tenant_id, issued.account_id, past.isoformat(),
                                86400, "test", resume=WaitState(past.isoformat())),
                    id=issued.workflow_id, task_queue=settings.task_queue)
                view = await result(env, issued.workflow_id)
    assert (view.state, view.error_code) == ("Error", "TOKEN_EXPIRED")
