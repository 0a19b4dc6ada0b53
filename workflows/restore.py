"""RestoreWorkflow: verify every frame and the SHA-256, then rename into place."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from byok.messages import RestoreInput, RestorePlan, RestoreResult
    from workflows import policies
    from workflows.errors import permanent_failure


@workflow.defn
class RestoreWorkflow:
    @workflow.run
    async def run(self, inp: RestoreInput) -> RestoreResult:
        plan: RestorePlan = await workflow.execute_activity(
            "plan_restore", inp, result_type=RestorePlan,
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        try:
            result: RestoreResult = await workflow.execute_activity(
                "read_restore", plan, result_type=RestoreResult,
                start_to_close_timeout=policies.TRANSFER_TIMEOUT,
                heartbeat_timeout=policies.HEARTBEAT, retry_policy=policies.TRANSFER)
        except ActivityError as err:
            failure = permanent_failure(err)
            if failure is None:
                raise
            code, message = failure
            result = RestoreResult(inp.tenant_id, inp.restore_id, False, error_code=code,
                                   error_message=message)
        await workflow.execute_activity(
            "finish_restore", result, start_to_close_timeout=policies.SHORT,
            retry_policy=policies.DB)
        if not result.ok:
            raise ApplicationError(result.error_message, {"code": result.error_code},
                                   type=result.error_code, non_retryable=True)
        return result
