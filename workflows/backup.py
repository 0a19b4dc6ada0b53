"""BackupWorkflow: plan (which key, which object), stream it into the vault, catalog it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities
    from activities.vault import VaultActivities
    from byok.messages import BackupInput, BackupResult
    from workflows.transfer import run_transfer


@workflow.defn
class BackupWorkflow:
    @workflow.run
    async def run(self, inp: BackupInput) -> BackupResult:
        return await run_transfer(
            plan=CatalogActivities.plan_backup, inp=inp, move=VaultActivities.write_backup,
            finish=CatalogActivities.finish_backup,
            failed=lambda code, message: BackupResult(inp.tenant_id, inp.backup_id, False,
                                                      error_code=code, error_message=message))
