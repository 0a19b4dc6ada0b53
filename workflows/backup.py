"""BackupWorkflow: plan (which key, which object), stream it into the vault, catalog it."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from byok.messages import BackupInput, BackupPlan, BackupResult
    from workflows import policies
    from workflows.errors import permanent_failure


@workflow.defn
class BackupWorkflow:
    @workflow.run
    async def run(self, inp: BackupInput) -> BackupResult:
        plan: BackupPlan = await workflow.execute_activity(
            "plan_backup", inp, result_type=BackupPlan,
            start_to_close_timeout=policies.SHORT, retry_policy=policies.DB)
        try:
            result: BackupResult = await workflow.execute_activity(
                "write_backup", plan, result_type=BackupResult,
                start_to_close_timeout=policies.TRANSFER_TIMEOUT,
                heartbeat_timeout=policies.HEARTBEAT, retry_policy=policies.TRANSFER)
        except ActivityError as err:
            failure = permanent_failure(err)
            if failure is None:
                raise
            code, message = failure
            result = BackupResult(inp.tenant_id, inp.backup_id, False, error_code=code,
                                  error_message=message)
        await workflow.execute_activity(
            "finish_backup", result, start_to_close_timeout=policies.SHORT,
            retry_policy=policies.DB)
        if not result.ok:
            raise ApplicationError(result.error_message, {"code": result.error_code},
                                   type=result.error_code, non_retryable=True)
        return result
