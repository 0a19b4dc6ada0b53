"""RestoreWorkflow: verify every frame and the SHA-256, then rename into place."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.vault import VaultActivities
    from byok.messages import RestoreInput, RestoreResult
    from workflows.transfer import run_transfer


@workflow.defn
class RestoreWorkflow:
    @workflow.run
    async def run(self, inp: RestoreInput) -> RestoreResult:
        return await run_transfer(
            plan=CatalogActivities.plan_restore, inp=inp, move=VaultActivities.read_restore,
            finish=CatalogActivities.finish_restore,
            failed=lambda code, message: RestoreResult(inp.tenant_id, inp.restore_id, False,
                                                       error_code=code, error_message=message))
