"""EnableByokWorkflow: wait for the tenant's stack, verify role and key, replicate, freeze."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from byok.messages import EnableInput, Preflight, StackCallback, TenantRef, WalletView
    from workflows import policies
    from workflows.errors import exhausted
    from workflows.stack_flow import TENANT_ID, WALLET_STATE, FlowFailed, StackFlow


@workflow.defn
class EnableByokWorkflow:
    @workflow.init
    def __init__(self, inp: EnableInput) -> None:
        # Built from the input before any signal is delivered, so no callback is missed.
        self._view = WalletView(tenant_id=inp.tenant_id, state="Waiting",
                                step="waiting_for_stack", account_native_id=inp.account_id)
        self._flow = StackFlow(inp, self._view)

    @workflow.signal
    def stack_callback(self, callback: StackCallback) -> None:
        self._flow.receive(callback)

    @workflow.update
    def deliver_stack_callback(self, callback: StackCallback) -> str:
        """Returns once this run holds the report: "accepted" means it cannot be lost."""
        self._flow.receive(callback)
        return "accepted"

    @deliver_stack_callback.validator
    def _check_stack_callback(self, callback: StackCallback) -> None:
        self._flow.check(callback)

    @workflow.query
    def wallet(self) -> WalletView:
        return self._view

    @workflow.run
    async def run(self, inp: EnableInput) -> WalletView:
        flow = self._flow
        workflow.upsert_search_attributes([TENANT_ID.value_set(inp.tenant_id),
                                           WALLET_STATE.value_set("Waiting")])
        pre: Preflight = await workflow.execute_activity_method(
            CatalogActivities.preflight, TenantRef(inp.tenant_id),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        try:
            try:
                callback = await flow.wait_for_stack(pre)
                await flow.wallet(role_arn=callback.role_arn,
                                  stack_version=callback.template_version)
                await flow.verify_and_replicate(pre, callback)
            except ActivityError as err:  # a database step whose retries ran out
                raise FlowFailed(*exhausted(err)) from None
        except FlowFailed as failure:
            # The tenant reads why in the CloudFormation console; the stack rolls back.
            await flow.answer("FAILED", failure.message)
            self._view.state, self._view.step = "Error", "error"
            self._view.error_code, self._view.error_message = failure.code, failure.message
            await flow.wallet(state="Error", step="error", error_code=failure.code,
                              error_message=failure.message, void_token=True)
            workflow.upsert_search_attributes([WALLET_STATE.value_set("Error")])
            await flow.audit("wallet.failed", {"code": failure.code, "message": failure.message})
        return self._view
