"""RestoreWorkflow: verify every frame and the SHA-256, then rename into place."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from byok.messages import RestoreInput, RestorePlan, RestoreResult
    from workflows.transfer import run_transfer


@workflow.defn
class RestoreWorkflow:
    @workflow.run
    async def run(self, inp: RestoreInput) -> RestoreResult:
        return await run_transfer(
            plan="plan_restore", inp=inp, plan_type=RestorePlan, move="read_restore",
            result_type=RestoreResult, finish="finish_restore",
            failed=lambda code, message: RestoreResult(inp.tenant_id, inp.restore_id, False,
                                                       error_code=code, error_message=message))
