"""No setting can push a workflow past Temporal's history limit: poll settings are bounded,
and the longest wait (a 90-day token polled as often as allowed) continues as new, carrying
its deadline, attempt and delay, so every run's history stays small."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType

from byok import crud, enablement
from byok.db import session_scope
from byok.errors import InvalidSettings
from byok.messages import EnableInput
from byok.settings import Settings, load_settings
from control.enablement import deliver_callback
from tests.conftest import TENANT_ACCOUNT
from tests.lazy import lazy
from tests.workflows.enable_helpers import private_time_skipping_env, result
from worker import build_worker
from workflows.enable_byok import EnableByokWorkflow

HISTORY_LIMIT = 51_200  # Temporal's default hard limit of events per run


@pytest.mark.parametrize(("overrides", "variable"), [
    ({"token_ttl_days": 91}, "BYOK_TOKEN_TTL_DAYS"),
    ({"poll_initial_seconds": 1}, "BYOK_POLL_INITIAL_SECONDS"),
    ({"poll_max_seconds": 59}, "BYOK_POLL_MAX_SECONDS"),
    ({"poll_initial_seconds": 600, "poll_max_seconds": 300}, "BYOK_POLL_MAX_SECONDS"),
])
def test_poll_settings_that_could_run_away_are_refused(overrides: dict[str, int],
                                                       variable: str) -> None:
    with pytest.raises(InvalidSettings) as info:
        load_settings(**overrides)
    assert variable in info.value.message


def test_the_worst_allowed_settings_fit_in_runs_far_below_the_limit() -> None:
    worst = load_settings(token_ttl_days=90, poll_initial_seconds=5, poll_max_seconds=60)
    assert (worst.token_ttl_days, worst.poll_max_seconds) == (90, 60)
    # The default per-run bound leaves room for the steps after the wait.
    assert EnableInput("t", "a", "", 1).max_run_events * 2 < HISTORY_LIMIT


async def _runs(env: Any, workflow_id: str, first_run: str) -> list[list[Any]]:
    """Every run's events, following the continue-as-new chain from the first run."""
    runs, run_id = [], first_run
    while run_id:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id) \
            .fetch_history()
        runs.append(list(history.events))
        last = history.events[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
                  else "")
    return runs


async def test_a_90_day_wait_polled_every_minute_continues_as_new_and_still_enables(
        settings: Settings, engine: Engine, aws: Any, tenant: str, deploy: Any) -> None:
    worst = settings.model_copy(update={"token_ttl_days": 90, "poll_initial_seconds": 5,
                                        "poll_max_seconds": 60})
    bound = 150  # a low bound, so that an hour of polls crosses it several times
    async with private_time_skipping_env() as env:
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with build_worker(env.client, worst, engine, aws, executor):
                with session_scope(engine) as session:
                    issued = enablement.issue(
                        session, worst, crud.get_tenant(session, ref=tenant), TENANT_ACCOUNT,
                        accept_irretrievable=True, accept_immutable=True, actor="test")
                handle = await env.client.start_workflow(
                    EnableByokWorkflow.run,
                    EnableInput(issued.tenant_id, issued.account_id,
                                issued.expires_at.isoformat(), 90 * 86400, "test", 5, 60,
                                max_run_events=bound),
                    id=issued.workflow_id, task_queue=worst.task_queue)
                first_run = handle.result_run_id or ""
                await env.sleep(3600)
                runs = await _runs(env, issued.workflow_id, first_run)
                assert len(runs) >= 3, [len(r) for r in runs]
                started = runs[0][0].event_time.ToDatetime()
                deadlines, attempts = [], []
                for events in runs[1:]:
                    attrs = events[0].workflow_execution_started_event_attributes
                    # History payloads are encrypted: decode through the client's codec.
                    inp = (await env.client.data_converter.decode(
                        attrs.input.payloads, [EnableInput]))[0]
                    assert inp.resume is not None and inp.resume.callback is None
                    deadlines.append(datetime.fromisoformat(inp.resume.deadline))
                    attempts.append(inp.resume.attempt)
                    assert inp.resume.delay_seconds == 60  # the backoff is not reset
                # One deadline for the whole chain: the token's, 90 days after the first start.
                assert len(set(deadlines)) == 1
                assert abs(deadlines[0].replace(tzinfo=None) - started
                           - timedelta(days=90)) < timedelta(seconds=5)
                assert attempts == sorted(attempts) and attempts[0] > 0
                assert all(len(events) <= bound + 20 for events in runs)
                # The callback reaches the current run, which enables.
                await deliver_callback(engine, lazy(env.client), await deploy(issued))
                view = await result(env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
