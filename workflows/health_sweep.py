"""HealthSweepWorkflow: every BYOK tenant checked in batch activities, bounded, continued as new."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.health import KeyHealthActivities
    from byok.health_messages import (
        AlertRef,
        BatchInput,
        BatchResult,
        HealthCheckInput,
        MissedInput,
        SweepInput,
        SweepResult,
        TenantPage,
        TenantPageInput,
    )
    from workflows import policies
    from workflows.alert_delivery import AlertDeliveryWorkflow
    from workflows.key_health import TENANT_ID, KeyHealthWorkflow

BATCH_TIMEOUT = timedelta(minutes=15)
BATCH_HEARTBEAT = timedelta(seconds=60)
# A batch retried whole would redo every tenant's AWS calls, so a retry resumes from the
# heartbeat (tenants stored are skipped); tenants that keep failing are deferred, not retried.
BATCH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                          maximum_interval=timedelta(minutes=2), maximum_attempts=5)


def tenant_attrs(tenant_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)])


@workflow.defn
class HealthSweepWorkflow:
    def __init__(self) -> None:
        self.result = SweepResult(0, 0, 0)

    @workflow.run
    async def run(self, inp: SweepInput) -> SweepResult:
        self.result = SweepResult(inp.checked, inp.failed, inp.changed, inp.handed_off,
                                  inp.gone, inp.missed, inp.db_writes)
        after, batches = inp.after, 0
        running: set[asyncio.Task[None]] = set()
        while True:
            page: TenantPage = await workflow.execute_activity_method(
                KeyHealthActivities.list_health_tenants, TenantPageInput(after, inp.batch_size),
                # On the sweep's own queue: a listing is a database read, never starved.
                start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
            if page.tenant_ids:
                # A sliding window of batches: a slow batch holds one slot, not the sweep.
                while len(running) >= inp.concurrency:
                    _, pending = await workflow.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    running = set(pending)
                batches += 1
                running.add(asyncio.create_task(self._batch(inp, page.tenant_ids, batches)))
                after = page.tenant_ids[-1]
            if len(page.tenant_ids) < inp.batch_size:
                break
            if batches >= inp.batches_per_run or workflow.info().is_continue_as_new_suggested():
                if running:
                    await workflow.wait(running)
                r = self.result
                workflow.continue_as_new(SweepInput(
                    after, inp.concurrency, inp.batch_size, inp.batches_per_run, inp.task_queue,
                    inp.schedule_to_start_seconds, r.checked, r.failed, r.changed,
                    r.handed_off, r.gone, r.missed, r.db_writes))
        if running:
            await workflow.wait(running)
        return self.result

    async def _batch(self, inp: SweepInput, tenant_ids: list[str], seq: int) -> None:
        info = workflow.info()
        check_id = f"{info.workflow_id}/{info.run_id}/{seq}"
        try:
            out: BatchResult = await workflow.execute_activity_method(
                KeyHealthActivities.check_health_batch, BatchInput(tenant_ids, check_id),
                start_to_close_timeout=BATCH_TIMEOUT, heartbeat_timeout=BATCH_HEARTBEAT,
                schedule_to_start_timeout=timedelta(seconds=inp.schedule_to_start_seconds),
                retry_policy=BATCH_RETRY, task_queue=inp.task_queue or None)
        except ActivityError as err:
            if isinstance(err.cause, TimeoutError) and \
                    err.cause.type == TimeoutType.SCHEDULE_TO_START:
                await self._missed(inp, check_id, tenant_ids)
                return
            # The whole batch failed (the database, say): each tenant is checked alone.
            workflow.logger.warning("health batch %s failed, checked one by one: %s",
                                    check_id, err.cause or err)
            out = BatchResult(deferred=list(tenant_ids))
        self.result.checked += out.checked
        self.result.changed += len(out.alerts)
        self.result.gone += out.gone
        self.result.db_writes += out.db_writes
        for note in out.alerts:
            # Delivery may retry for hours; it must not hold up the sweep.
            await workflow.start_child_workflow(
                AlertDeliveryWorkflow.run, AlertRef(note.alert_id), id=f"alert-{note.alert_id}",
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=tenant_attrs(note.tenant_id))
        for tenant_id in out.deferred:
            # Its own workflow retries with backoff and records when it gets through; the
            # sweep does not wait for it (a throttled tenant delays no one).
            await workflow.start_child_workflow(
                KeyHealthWorkflow.run, HealthCheckInput(tenant_id, "sweep",
                                                        task_queue=inp.task_queue),
                id=f"{check_id}/{tenant_id}", execution_timeout=timedelta(hours=1),
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=tenant_attrs(tenant_id))
            self.result.handed_off += 1

    async def _missed(self, inp: SweepInput, check_id: str, tenant_ids: list[str]) -> None:
        """No worker took the batch in time (a starved queue): report it from this workflow's
        own worker (a local activity needs no queue), then move on; the next sweep retries."""
        workflow.logger.error("health batch %s: no worker started it within %ss (%d tenants)",
                              check_id, inp.schedule_to_start_seconds, len(tenant_ids))
        await workflow.execute_local_activity_method(
            KeyHealthActivities.record_missed_check,
            MissedInput(check_id, tenant_ids, inp.schedule_to_start_seconds, inp.task_queue),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        self.result.missed += len(tenant_ids)
