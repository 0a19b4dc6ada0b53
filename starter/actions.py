"""What the CLI and the web app both do: start, signal and query workflows, read state."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from byok import audit, backups, cfn, crud, enablement, health_alerts, migration
from byok.db import session_scope
from byok.errors import ByokError, Conflict, NotFound, error_class
from byok.messages import BackupInput, EnableInput, RestoreInput
from byok.models import Backup, Wallet
from byok.settings import Settings
from workflows.backup import BackupWorkflow
from workflows.enable_byok import EnableByokWorkflow
from workflows.migrate_byok import MigrateByokWorkflow
from workflows.restore import RestoreWorkflow

UPGRADE_NOTE = (
    "An upgrade of your byok-vault stack (template v{old} -> v2) is available: a multi-region "
    "key replicated to every connected region (backups and restores in every region use your "
    "key) and a least-privilege role. Backups taken so far stay under your current key, which "
    "stays in your keyring and under health checks. Run `byok migrate` or use the console.")


async def start_enable(client: Client, engine: Engine, settings: Settings, *, tenant: str,
                       account: str, accept_irretrievable: bool, accept_immutable: bool,
                       actor: str) -> enablement.Issued:
    """Issue the token (committed before the stack can call back), then start the workflow."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        issued = enablement.issue(session, settings, t, account,
                                  accept_irretrievable=accept_irretrievable,
                                  accept_immutable=accept_immutable, actor=actor)
    handle = await _start_stack_workflow(client, engine, settings, EnableByokWorkflow.run,
                                         issued, actor, "an enablement", "ENABLE_IN_PROGRESS")
    with session_scope(engine) as session:
        wallet = session.get(Wallet, issued.tenant_id)
        if wallet:
            wallet.run_id = handle.result_run_id
            session.add(wallet)
    return issued


async def _start_stack_workflow(client: Client, engine: Engine, settings: Settings, run: Any,
                                issued: enablement.Issued, actor: str, what: str,
                                code: str) -> Any:
    """Start the workflow that waits for this token's stack; one per tenant at a time."""
    inp = EnableInput(issued.tenant_id, issued.account_id, issued.expires_at.isoformat(),
                      settings.token_ttl_days * 86400, actor, settings.poll_initial_seconds,
                      settings.poll_max_seconds)
    try:
        return await client.start_workflow(
            run, inp, id=issued.workflow_id, task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    except WorkflowAlreadyStartedError:
        with session_scope(engine) as session:
            enablement.void_token(session, issued.tenant_id)
        raise Conflict(f"{what} is already running for this tenant", code=code) from None


async def deliver_callback(client: Client, engine: Engine,
                           payload: dict[str, Any]) -> dict[str, Any]:
    """Authenticate a report by its token and hand it to the waiting workflow (the HTTP
    route). The token is committed as used only once the workflow holds the report."""
    from control.callbacks import hand_over

    with session_scope(engine) as session:
        row, callback, replayed = enablement.accept_callback(session, payload)
        tenant_id, workflow_id = row.tenant_id, row.workflow_id
        try:
            await hand_over(client, workflow_id, callback)
        except NotFound:
            # Only a replay may find the run finished: it received this report before.
            if not replayed:
                raise
    return {"tenant_id": tenant_id, "accepted": True, "replayed": replayed}


def wallet_status(engine: Engine, settings: Settings, tenant: str) -> dict[str, Any]:
    """The wallet as DESIGN.md names its fields (the token itself is never shown again)."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        wallet = session.get(Wallet, t.id)
        bound = enablement.binding(session, t.id)
        regions: list[str] = []
        for conn in crud.connections(session, tenant_id=t.id):
            regions.extend(r for r in conn.regions if r not in regions)
        health = health_alerts.view(session, t.id)  # key health per region, findings, radius
    out: dict[str, Any] = {
        "tenant_id": t.id, "tenant_name": t.name, "state": "NotConfigured",
        "error_code": None, "error_message": None, "key_errors": {},
        "account_native_id": None, "role_arn": None, "key_arn": None, "replica_key_arns": {},
        "installed_regions": [], "supported_regions": regions, "stack_version": None,
        "available_version": cfn.CURRENT_TEMPLATE_VERSION, "deployment_url": None,
        "template_url": enablement.template_url(settings), "token": None, "progress": [],
        "workflow_id": None, "temporal_ui_url": None, "health": health,
    }
    if wallet:
        out.update(state=wallet.state, error_code=wallet.error_code,
                   error_message=wallet.error_message, key_errors=wallet.key_errors,
                   account_native_id=wallet.account_native_id, role_arn=wallet.role_arn,
                   key_arn=wallet.key_arn, replica_key_arns=wallet.replica_key_arns,
                   installed_regions=wallet.installed_regions,
                   stack_version=wallet.stack_version, progress=wallet.progress,
                   workflow_id=wallet.workflow_id,
                   token_expires_at=wallet.token_expires_at.isoformat()
                   if wallet.token_expires_at else None)
        if wallet.workflow_id:
            out["temporal_ui_url"] = (f"{settings.temporal_ui_url}/namespaces/"
                                      f"{settings.temporal_namespace}/workflows/"
                                      f"{wallet.workflow_id}")
        if wallet.state == "Waiting":
            out["deployment_url"] = cfn.quick_create_url(
                region=settings.control_plane_region, template_url=out["template_url"],
                stack_name=cfn.stack_name_for(t.id),
                parameters={"ExternalId": wallet.external_id or ""})
    if bound:
        out["upgrade_available"] = bound.template_version < cfn.CURRENT_TEMPLATE_VERSION
        if out["upgrade_available"]:
            out["upgrade"] = UPGRADE_NOTE.format(old=bound.template_version)
    return out


async def workflow_running(client: Client, workflow_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return desc.status == WorkflowExecutionStatus.RUNNING


def record(engine: Engine, tenant_id: str, actor: str, action: str, **details: Any) -> None:
    with session_scope(engine) as session:
        audit.append(session, tenant_id=tenant_id, actor=actor, action=action, details=details)


async def run_backup(client: Client, engine: Engine, settings: Settings, *, tenant: str,
                     workload: str, source: str, region: str | None, actor: str,
                     backup_id: str | None = None, wait: bool = True) -> dict[str, Any]:
    """Validate, then run BackupWorkflow (id derives from the backup id: one run per backup)."""
    region = region or settings.control_plane_region
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        inp = BackupInput(t.id, backup_id or backups.new_id("bk"), workload, source, region,
                          actor)
        backups.validate_backup(session, inp)
    handle = await client.start_workflow(
        BackupWorkflow.run, inp, id=f"backup-{inp.backup_id}", task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    if not wait:
        return {"backup_id": inp.backup_id, "workflow_id": handle.id}
    await _result(handle)
    return backup_view(engine, t.id, inp.backup_id)


async def run_restore(client: Client, engine: Engine, settings: Settings, *, tenant: str,
                      backup_id: str, target: str, force: bool, actor: str,
                      wait: bool = True) -> dict[str, Any]:
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        inp = RestoreInput(t.id, backups.new_id("rs"), backup_id, target, force, actor)
        backups.validate_restore(session, inp)
    handle = await client.start_workflow(
        RestoreWorkflow.run, inp, id=f"restore-{inp.restore_id}", task_queue=settings.task_queue)
    if not wait:
        return {"restore_id": inp.restore_id, "workflow_id": handle.id}
    result = await _result(handle)
    return {"restore_id": inp.restore_id, "backup_id": backup_id, "target": target,
            "bytes": result.plaintext_size, "ok": result.ok}


async def _result(handle: Any) -> Any:
    """The workflow's result, or our error (type and code) when it failed."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        cause: BaseException | None = exc.cause
        if isinstance(cause, ActivityError):  # e.g. a refusal from the plan step
            cause = cause.cause
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details else {}
            code = details.get("code") if isinstance(details, dict) else None
            # Our own error class again (its `type` carried the name), so callers can tell.
            cls = error_class(cause.type or "")
            raise cls(cause.message, code=code or cause.type or "FAILED") from None
        raise


def backup_view(engine: Engine, tenant_id: str, backup_id: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        row = backups.get_backup(session, tenant_id, backup_id)
        return backup_dict(row, _generation(session, tenant_id))


def backup_dict(row: Backup, current_generation: int | None = None) -> dict[str, Any]:
    # A BYOK backup under an older key generation depends on a legacy key now.
    kind = row.key_kind
    if kind == "byok" and current_generation and (row.key_generation or 0) < current_generation:
        kind = "legacy"
    return {"id": row.id, "tenant_id": row.tenant_id, "workload": row.workload,
            "source": row.source, "region": row.region, "plaintext_size": row.plaintext_size,
            "stored_size": row.stored_size, "sha256": row.sha256, "key_arn": row.key_arn,
            "key_kind": kind, "status": row.status, "error": row.error,
            "created_at": row.created_at.isoformat(),
            "completed_at": row.completed_at.isoformat() if row.completed_at else None}


def list_backups(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        gen = _generation(session, t.id)
        return [backup_dict(b, gen) for b in backups.list_backups(session, t.id)]


def _generation(session: Any, tenant_id: str) -> int | None:
    bound = enablement.binding(session, tenant_id)
    return bound.generation if bound else None


async def start_migration(client: Client, engine: Engine, settings: Settings, *, tenant: str,
                          actor: str) -> dict[str, Any]:
    """Issue an upgrade token and start MigrateByokWorkflow; returns once the legacy key was
    found healthy (or raises the reason it is not), so the tenant learns it now."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        issued = migration.issue_upgrade(session, settings, t, actor)
    if issued is None:
        return {"tenant_id": t.id, "migrated": False,
                "message": "already on the current template; nothing to migrate"}
    handle = await _start_stack_workflow(client, engine, settings, MigrateByokWorkflow.run,
                                         issued, actor, "a migration", "MIGRATION_IN_PROGRESS")
    while True:
        view = await handle.query(MigrateByokWorkflow.wallet)
        if view.error_code:
            raise ByokError(view.error_message or "migration refused", code=view.error_code)
        if view.step != "checking_legacy_key":
            break
        await asyncio.sleep(0.2)
    return issued.public() | {"migrated": True}
