"""Recorded histories of every workflow type replay against today's code: a change that would
break a run already in flight fails here, not in production. And the versioning policy of
docs/OPERATIONS.md, shown: an unguarded new step breaks replay, the patched form does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.audit import AuditActivities
from byok.messages import AuditInput, EnableInput, WalletView
from worker import WORKFLOWS
from workflows import policies
from workflows.enable_byok import EnableByokWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def history(path: Path) -> WorkflowHistory:
    recorded = json.loads(path.read_text())
    return WorkflowHistory.from_json(recorded["workflow_id"], recorded["history"])


def test_every_workflow_type_has_recorded_histories() -> None:
    recorded = {history(p).events[0].workflow_execution_started_event_attributes
                .workflow_type.name for p in HISTORIES}
    assert {w.__name__ for w in WORKFLOWS} <= recorded, recorded


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history(path))


async def _audit_first(inp: EnableInput) -> None:
    """The kind of change a release makes: one more activity before the wait for the stack."""
    await workflow.execute_activity_method(
        AuditActivities.record, AuditInput(inp.tenant_id, "wallet.requested", "workflow", {}, ""),
        start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)


@workflow.defn(name="EnableByokWorkflow", sandboxed=False)
class UnguardedStep(EnableByokWorkflow):
    @workflow.run
    async def run(self, inp: EnableInput) -> WalletView:
        await _audit_first(inp)
        return await super().run(inp)


@workflow.defn(name="EnableByokWorkflow", sandboxed=False)
class PatchedStep(EnableByokWorkflow):
    @workflow.run
    async def run(self, inp: EnableInput) -> WalletView:
        # New runs take the new step; runs started before the release replay without it.
        if workflow.patched("audit-before-wait"):
            await _audit_first(inp)
        return await super().run(inp)


async def test_a_new_step_breaks_runs_in_flight_unless_it_is_patched() -> None:
    waiting = history(Path(__file__).parent / "histories" / "enable_waiting_for_stack.json")
    broken = await Replayer(workflows=[UnguardedStep], data_converter=pydantic_data_converter) \
        .replay_workflow(waiting, raise_on_replay_failure=False)
    assert broken.replay_failure is not None
    assert "nondetermin" in f"{type(broken.replay_failure).__name__} " \
        f"{broken.replay_failure}".lower()
    patched = await Replayer(workflows=[PatchedStep], data_converter=pydantic_data_converter) \
        .replay_workflow(waiting, raise_on_replay_failure=False)
    assert patched.replay_failure is None
