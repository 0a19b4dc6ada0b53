"""EnableByokWorkflow: wait for the tenant's stack, verify role and key, replicate, freeze."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from byok.messages import (
        AuditInput,
        EnableInput,
        FreezeInput,
        KeyCheck,
        KeyFacts,
        PollInput,
        PollResult,
        Preflight,
        ReplicaInput,
        ReplicaResult,
        RoleCheck,
        StackCallback,
        TenantRef,
        WalletUpdate,
        WalletView,
    )
    from workflows import policies

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
WALLET_STATE = SearchAttributeKey.for_keyword("WalletState")


class EnableFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@workflow.defn
class EnableByokWorkflow:
    def __init__(self) -> None:
        self._view = WalletView(tenant_id="", state="Waiting", step="waiting_for_stack")
        self._callback: StackCallback | None = None

    @workflow.signal
    def stack_callback(self, callback: StackCallback) -> None:
        # Replays and a late poll result are ignored: the first report wins.
        if self._callback is None:
            self._callback = callback

    @workflow.query
    def wallet(self) -> WalletView:
        return self._view

    @workflow.run
    async def run(self, inp: EnableInput) -> WalletView:
        self._view.tenant_id = inp.tenant_id
        self._view.account_native_id = inp.account_id
        workflow.upsert_search_attributes([TENANT_ID.value_set(inp.tenant_id),
                                           WALLET_STATE.value_set("Waiting")])
        pre: Preflight = await workflow.execute_activity(
            "preflight", TenantRef(inp.tenant_id), result_type=Preflight,
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        try:
            callback = await self._wait_for_stack(inp, pre)
            await self._verify_and_replicate(inp, pre, callback)
        except EnableFailed as failure:
            await self._fail(inp, failure)
        return self._view

    async def _step(self, inp: EnableInput, step: str, **details: object) -> None:
        self._view.step = step
        await workflow.execute_activity(
            "update_wallet", WalletUpdate(tenant_id=inp.tenant_id, step=step),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        await self._audit(inp, f"wallet.{step}", details)

    async def _audit(self, inp: EnableInput, action: str, details: dict[str, object]) -> None:
        # Keyed by run and action: a retried or replayed activity records the event once.
        key = f"{workflow.info().workflow_id}/{workflow.info().run_id}/{action}"
        await workflow.execute_activity(
            "record_audit", AuditInput(inp.tenant_id, action, "workflow", details, key),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)

    async def _wait_for_stack(self, inp: EnableInput, pre: Preflight) -> StackCallback:
        # The deadline runs on the workflow's clock (durable, and what tests can skip).
        expires = workflow.info().start_time + timedelta(seconds=inp.token_ttl_seconds)
        delay = timedelta(seconds=inp.poll_initial_seconds)
        attempt = 0
        while self._callback is None:
            left = expires - workflow.now()
            if left <= timedelta(0):
                raise EnableFailed("TOKEN_EXPIRED", "the stack never reported back before the "
                                   "token expired; start a new enablement to get a new token")
            try:
                await workflow.wait_condition(lambda: self._callback is not None,
                                              timeout=min(delay, left))
            except TimeoutError:
                attempt += 1
                # Fallback for a lost callback: read the stack's notifications ourselves.
                found: PollResult = await workflow.execute_activity(
                    "poll_stack", PollInput(inp.tenant_id, pre.account_id, attempt),
                    result_type=PollResult, start_to_close_timeout=policies.AWS_TIMEOUT,
                    retry_policy=policies.AWS)
                if found.callback and self._callback is None:
                    self._callback = found.callback
                if found.role_found and self._view.step == "waiting_for_stack":
                    await self._step(inp, "role_found")
                delay = min(delay * 2, timedelta(seconds=inp.poll_max_seconds))
        return self._callback

    async def _verify_and_replicate(self, inp: EnableInput, pre: Preflight,
                                    cb: StackCallback) -> None:
        self._view.role_arn = cb.role_arn
        await workflow.execute_activity(
            "update_wallet", WalletUpdate(tenant_id=inp.tenant_id, role_arn=cb.role_arn,
                                          stack_version=cb.template_version),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        await self._step(inp, "verifying_role", role_arn=cb.role_arn, source=cb.source)
        await self._activity("verify_role", RoleCheck(inp.tenant_id, pre.account_id,
                                                       cb.role_arn, pre.control_plane_region))
        await self._step(inp, "verifying_key", key_id=cb.multi_region_cmk_key_id)
        facts: KeyFacts = await self._activity(
            "verify_key", KeyCheck(inp.tenant_id, pre.account_id, cb.role_arn,
                                   cb.multi_region_cmk_key_id, pre.control_plane_region),
            result_type=KeyFacts)
        self._view.key_arn = facts.key_arn
        regions = [r for r in pre.regions if r != facts.region]
        await self._step(inp, "replicating", regions=regions)
        results: list[ReplicaResult] = await asyncio.gather(*[
            self._activity("replicate_key", ReplicaInput(inp.tenant_id, cb.role_arn,
                                                         facts.key_arn, region),
                           result_type=ReplicaResult, timeout=policies.REPLICA_TIMEOUT)
            for region in regions])
        replicas = {r.region: r.key_arn for r in results if r.ok}
        errors = {r.region: {"code": r.error_code, "message": r.error_message}
                  for r in results if not r.ok}
        self._view.replica_key_arns, self._view.key_errors = replicas, errors
        self._view.installed_regions = [facts.region, *sorted(replicas)]
        await workflow.execute_activity(
            "freeze_binding", FreezeInput(inp.tenant_id, pre.account_id, cb.role_arn,
                                          facts.key_arn, facts.region, replicas,
                                          cb.template_version),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        self._view.state, self._view.step = "Enabled", "enabled"
        self._view.stack_version = cb.template_version
        await workflow.execute_activity(
            "update_wallet", WalletUpdate(
                tenant_id=inp.tenant_id, state="Enabled", step="enabled", key_arn=facts.key_arn,
                replica_key_arns=replicas, installed_regions=self._view.installed_regions,
                key_errors=errors, stack_version=cb.template_version),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        workflow.upsert_search_attributes([WALLET_STATE.value_set("Enabled")])
        await self._audit(inp, "wallet.enabled", {"key_arn": facts.key_arn,
                                                  "replicas": replicas, "key_errors": errors})

    async def _activity(self, name: str, arg: object, *, result_type: type | None = None,
                        timeout: timedelta = policies.AWS_TIMEOUT) -> Any:
        try:
            return await workflow.execute_activity(
                name, arg, result_type=result_type, start_to_close_timeout=timeout,
                heartbeat_timeout=policies.HEARTBEAT if timeout > policies.AWS_TIMEOUT else None,
                retry_policy=policies.AWS)
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                details = cause.details[0] if cause.details else {}
                code = details.get("code") if isinstance(details, dict) else None
                raise EnableFailed(code or cause.type or "FAILED", cause.message) from None
            raise

    async def _fail(self, inp: EnableInput, failure: EnableFailed) -> None:
        self._view.state, self._view.step = "Error", "error"
        self._view.error_code, self._view.error_message = failure.code, failure.message
        await workflow.execute_activity(
            "update_wallet", WalletUpdate(tenant_id=inp.tenant_id, state="Error", step="error",
                                          error_code=failure.code,
                                          error_message=failure.message, void_token=True),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        workflow.upsert_search_attributes([WALLET_STATE.value_set("Error")])
        await self._audit(inp, "wallet.failed", {"code": failure.code,
                                                 "message": failure.message})
