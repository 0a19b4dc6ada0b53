"""The steps enablement and migration share, run inside either workflow: wait for the
tenant's stack, verify role and key, replicate, freeze the binding."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from activities.callbacks import CallbackActivities
    from activities.catalog import CatalogActivities
    from activities.health_schedule import HealthScheduleActivities
    from activities.kms import KmsActivities
    from activities.sts import StsActivities
    from byok.custom_resource import ReplyInput
    from byok.messages import (
        AuditInput,
        EnableInput,
        FreezeInput,
        KeyCheck,
        KeyFacts,
        Preflight,
        ReplicaInput,
        ReplicaResult,
        RoleCheck,
        StackCallback,
        TenantRef,
        WaitState,
        WalletUpdate,
        WalletView,
    )
    from workflows import policies
    from workflows.errors import exhausted, permanent_failure
    from workflows.tenant_replicas import wait_for_replicas

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
WALLET_STATE = SearchAttributeKey.for_keyword("WalletState")


class FlowFailed(Exception):
    """A permanent failure the tenant must act on (code and message are shown to them)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class StackFlow:
    def __init__(self, inp: EnableInput, view: WalletView, prefix: str = "wallet"):
        self.inp, self.view, self.prefix = inp, view, prefix
        self.callback: StackCallback | None = None
        self.answered = False

    def check(self, callback: StackCallback) -> None:
        """Update validator: refuse a second, different report (the first one wins); the same
        request delivered again is accepted, so redelivery is idempotent."""
        # Checked again here: what crosses Temporal is not trusted for having been parsed.
        if callback.replica_management not in ("service", "tenant"):
            raise ValueError("replica_management must be service or tenant")
        held = self.callback
        if held is None:
            return
        same = held.request is not None and callback.request is not None and \
            held.request.request_id == callback.request.request_id
        if not same and held != callback:
            raise ValueError("this enablement already received its stack's report")

    def receive(self, callback: StackCallback) -> None:
        if self.callback is None:
            self.callback = callback

    async def answer(self, status: str, reason: str = "",
                     data: dict[str, str] | None = None) -> None:
        """Answer the held custom-resource request once (nothing to answer on the HTTP route).
        A refused SUCCESS means the stack stopped waiting for us: nothing may be frozen."""
        request = self.callback.request if self.callback else None
        if request is None or self.answered:
            return
        self.answered = True
        try:
            await workflow.execute_activity_method(
                CallbackActivities.reply, ReplyInput(request, status, reason, data or {}),
                start_to_close_timeout=policies.SHORT, retry_policy=policies.AWS)
        except ActivityError as err:
            if status != "SUCCESS":
                # The failure is recorded anyway; unanswered, the stack times out and rolls back.
                workflow.logger.warning("the stack's %s answer was not sent: %s", status,
                                        err.cause)
                return
            failure = permanent_failure(err)
            if failure is None:  # retries ran out: end in Error, never half answered
                raise FlowFailed(*exhausted(err)) from None
            raise FlowFailed("STACK_REPLY_REFUSED", "CloudFormation no longer accepts our "
                             "answer for this stack (it timed out waiting); delete the "
                             "stack and start again") from None

    async def wallet(self, **fields: Any) -> None:
        await workflow.execute_activity_method(
            CatalogActivities.update_wallet, WalletUpdate(tenant_id=self.inp.tenant_id, **fields),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)

    async def step(self, step: str, **details: object) -> None:
        self.view.step = step
        await self.wallet(step=f"{self.prefix}:{step}" if self.prefix != "wallet" else step)
        await self.audit(f"{self.prefix}.{step}", details)

    async def audit(self, action: str, details: dict[str, object]) -> None:
        # Keyed by run and action: a retried or replayed activity records the event once.
        info = workflow.info()
        key = f"{info.workflow_id}/{info.run_id}/{action}"
        await workflow.execute_activity_method(
            AuditActivities.record,
            AuditInput(self.inp.tenant_id, action, "workflow", details, key),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)

    async def activity(self, method: Callable[[Any, Any], Any], arg: object, *,
                       timeout: timedelta = policies.AWS_TIMEOUT) -> Any:
        """Run an AWS activity; our permanent errors become FlowFailed with their code."""
        try:
            return await workflow.execute_activity_method(
                method, arg, start_to_close_timeout=timeout,
                heartbeat_timeout=policies.HEARTBEAT if timeout > policies.AWS_TIMEOUT else None,
                retry_policy=policies.AWS)
        except ActivityError as err:
            raise FlowFailed(*(permanent_failure(err) or exhausted(err))) from None

    async def wait_for_stack(self, pre: Preflight) -> StackCallback:
        """The stack's report (delivered by update through the queue consumer) until expiry.
        A long wait continues as new (carrying its deadline, and a report already received)
        before its history grows too big."""
        inp = self.inp
        if inp.resume is not None:
            if inp.resume.callback is not None:
                self.receive(inp.resume.callback)
            expires = datetime.fromisoformat(inp.resume.deadline)
        else:
            # The deadline runs on the workflow's clock (durable, and what tests can skip).
            expires = workflow.info().start_time + timedelta(seconds=inp.token_ttl_seconds)
        while self.callback is None:
            left = expires - workflow.now()
            if left <= timedelta(0):
                raise FlowFailed("TOKEN_EXPIRED", "the stack never reported back before the "
                                 "token expired; start again to get a new token")
            if self._history_full():
                workflow.continue_as_new(replace(inp, resume=WaitState(
                    expires.isoformat(), callback=self.callback)))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.callback is not None or self._history_full(), timeout=left)
        return self.callback

    async def _replicate(self, role_arn: str, key_arn: str, regions: list[str]
                         ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """The service makes the replicas (ReplicateKey), region by region in parallel."""
        await self.step("replicating", regions=regions)
        results: list[ReplicaResult] = await asyncio.gather(*[
            self.activity(KmsActivities.replicate_key,
                          ReplicaInput(self.inp.tenant_id, role_arn, key_arn, r),
                          timeout=policies.REPLICA_TIMEOUT)
            for r in regions])
        replicas = {r.region: r.key_arn for r in results if r.ok}
        errors = {r.region: {"code": r.error_code, "message": r.error_message}
                  for r in results if not r.ok}
        return replicas, errors

    def _history_full(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or \
            info.get_current_history_length() >= self.inp.max_run_events

    async def verify_and_replicate(self, pre: Preflight, cb: StackCallback) -> None:
        """Verify the role and key, replicate everywhere, then freeze the new binding."""
        tenant = self.inp.tenant_id
        await self.step("verifying_role", role_arn=cb.role_arn, source=cb.source)
        await self.activity(StsActivities.verify_role,
                            RoleCheck(tenant, pre.account_id, cb.role_arn,
                                      pre.control_plane_region))
        await self.step("verifying_key", key_id=cb.multi_region_cmk_key_id)
        facts: KeyFacts = await self.activity(
            KmsActivities.verify_key, KeyCheck(tenant, pre.account_id, cb.role_arn,
                                               cb.multi_region_cmk_key_id,
                                               pre.control_plane_region))
        # The stack's Create is answered here, after role and key are proven and before
        # anything is frozen: a FAILED answer rolls the stack back with nothing bound to it,
        # and once Notify (which depends on every other resource) succeeds the stack completes.
        await self.answer("SUCCESS", data={"RoleArn": cb.role_arn, "KeyArn": facts.key_arn})
        regions = [r for r in pre.regions if r != facts.region]
        errors: dict[str, dict[str, str]] = {}
        # Only a tenant-managed stack takes the new path (older runs never see one).
        if cb.replica_management == "tenant" and workflow.patched("tenant-replicas"):
            replicas, missing = await wait_for_replicas(self, cb.role_arn, facts.key_arn,
                                                        regions)
            if missing:
                raise FlowFailed("REPLICAS_MISSING", missing)
        else:
            replicas, errors = await self._replicate(cb.role_arn, facts.key_arn, regions)
        await workflow.execute_activity_method(
            CatalogActivities.freeze_binding,
            FreezeInput(tenant, pre.account_id, cb.role_arn, facts.key_arn, facts.region,
                        replicas, cb.template_version),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        view = self.view
        view.state, view.step, view.role_arn, view.key_arn = "Enabled", "enabled", cb.role_arn, \
            facts.key_arn
        view.replica_key_arns, view.key_errors = replicas, errors
        view.installed_regions = [facts.region, *sorted(replicas)]
        view.stack_version = cb.template_version
        view.error_code = view.error_message = None
        view.replica_management = cb.replica_management
        await self.wallet(state="Enabled", step="enabled", role_arn=cb.role_arn,
                          key_arn=facts.key_arn, replica_key_arns=replicas,
                          installed_regions=view.installed_regions, key_errors=errors,
                          stack_version=cb.template_version,
                          replica_management=cb.replica_management)
        workflow.upsert_search_attributes([WALLET_STATE.value_set("Enabled")])
        await self.audit(f"{self.prefix}.enabled", {"key_arn": facts.key_arn,
                                                    "replicas": replicas, "key_errors": errors})
        # Key-health checks start with the binding (a migrated legacy tenant included).
        await workflow.execute_activity_method(
            HealthScheduleActivities.ensure, TenantRef(tenant),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
