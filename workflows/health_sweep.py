"""HealthSweepWorkflow: every BYOK tenant checked as a child, bounded, continued as new."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.health import KeyHealthActivities
    from byok.health_messages import (
        HealthCheckInput,
        HealthOutcome,
        SweepInput,
        SweepResult,
        TenantPage,
        TenantPageInput,
    )
    from workflows import policies
    from workflows.key_health import KeyHealthWorkflow


@workflow.defn
class HealthSweepWorkflow:
    def __init__(self) -> None:
        self.checked = self.failed = self.changed = self.handed_off = 0

    @workflow.run
    async def run(self, inp: SweepInput) -> SweepResult:
        self.checked, self.failed, self.changed = inp.checked, inp.failed, inp.changed
        self.handed_off = inp.handed_off
        after, started = inp.after, 0
        running: set[asyncio.Task[HealthOutcome | None]] = set()
        while True:
            page: TenantPage = await workflow.execute_activity_method(
                KeyHealthActivities.list_health_tenants, TenantPageInput(after, inp.page_size),
                start_to_close_timeout=policies.SHORT,
                retry_policy=policies.DB)
            for tenant_id in page.tenant_ids:
                # A sliding window, not batches: a slow or throttled tenant holds one slot
                # while the others keep flowing through the rest.
                while len(running) >= inp.concurrency:
                    done, pending = await workflow.wait(running,
                                                        return_when=asyncio.FIRST_COMPLETED)
                    running = set(pending)
                    self._tally(done)
                running.add(asyncio.create_task(self._check(tenant_id)))
                after, started = tenant_id, started + 1
            if len(page.tenant_ids) < inp.page_size:
                break
            if started >= inp.tenants_per_run or workflow.info().is_continue_as_new_suggested():
                # A short grace, then the slow ones go on alone (ABANDON): a throttled tenant
                # must not hold back the next run's tenants.
                await self._drain(running, inp.handoff_seconds)
                workflow.continue_as_new(SweepInput(
                    after, inp.concurrency, inp.page_size, inp.tenants_per_run,
                    inp.handoff_seconds, self.checked, self.failed, self.changed,
                    self.handed_off))
        await self._drain(running)
        return SweepResult(self.checked, self.failed, self.changed, self.handed_off)

    async def _check(self, tenant_id: str) -> HealthOutcome | None:
        try:
            return await workflow.execute_child_workflow(
                KeyHealthWorkflow.run, HealthCheckInput(tenant_id, "sweep"),
                id=f"{workflow.info().workflow_id}/{tenant_id}",
                execution_timeout=timedelta(hours=1),
                parent_close_policy=ParentClosePolicy.ABANDON)
        except ChildWorkflowError:
            return None

    async def _drain(self, running: set[asyncio.Task[HealthOutcome | None]],
                     grace: float | None = None) -> None:
        if running:
            done, pending = await workflow.wait(running, timeout=grace)
            self._tally(done)
            self.handed_off += len(pending)
            running.clear()

    def _tally(self, done: Iterable[asyncio.Task[HealthOutcome | None]]) -> None:
        for task in done:
            outcome = task.result()
            if outcome is None or not outcome.checked:
                self.failed += 1
            else:
                self.checked += 1
                self.changed += outcome.alert_id is not None
