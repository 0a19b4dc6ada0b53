"""MigrateByokWorkflow: from the legacy single-region BYOK (template v1) to the multi-region
key, keeping the previous key in the keyring for the backups made under it."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.kms import KmsActivities
    from byok.messages import EnableInput, Preflight, StackCallback, TenantRef, WalletView
    from workflows import policies
    from workflows.errors import exhausted
    from workflows.stack_flow import TENANT_ID, FlowFailed, StackFlow


@workflow.defn
class MigrateByokWorkflow:
    @workflow.init
    def __init__(self, inp: EnableInput) -> None:
        # The wallet stays Enabled on the legacy key until the new binding is frozen: new
        # backups always have a working key.
        self._view = WalletView(tenant_id=inp.tenant_id, state="Enabled",
                                step="waiting_for_stack" if inp.resume else "checking_legacy_key",
                                account_native_id=inp.account_id)
        self._flow = StackFlow(inp, self._view, prefix="migration")

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
        workflow.upsert_search_attributes([TENANT_ID.value_set(inp.tenant_id)])
        pre: Preflight = await workflow.execute_activity_method(
            CatalogActivities.preflight, TenantRef(inp.tenant_id),
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        # Runs recorded before Preflight carried the version were started when v2 was current.
        target = pre.template_version or 2
        try:
            try:
                if inp.resume is None:  # a run continued as new is already past these steps
                    await flow.step("checking_legacy_key")
                    await flow.activity(KmsActivities.check_legacy_key, TenantRef(inp.tenant_id))
                    await flow.step("waiting_for_stack")
                callback = await flow.wait_for_stack(pre)
                if callback.template_version < target:
                    raise FlowFailed("TEMPLATE_NOT_UPGRADED", "the stack still reports template "
                                     f"v{callback.template_version}; update it with the v"
                                     f"{target} template")
                await flow.verify_and_replicate(pre, callback)
            except ActivityError as err:  # a database step whose retries ran out
                raise FlowFailed(*exhausted(err)) from None
        except FlowFailed as failure:
            # The tenant reads why in the CloudFormation console; the stack rolls back.
            await flow.answer("FAILED", failure.message)
            self._view.step = "failed"
            self._view.error_code, self._view.error_message = failure.code, failure.message
            await flow.wallet(step="migration:failed", error_code=failure.code,
                              error_message=failure.message, void_token=True)
            await flow.audit("migration.failed", {"code": failure.code,
                                                  "message": failure.message})
        return self._view
