"""What the CLI and the web app both do: start, signal and query workflows, read state."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from byok import audit, backups, cfn, crud, enablement
from byok.db import session_scope
from byok.errors import ByokError, Conflict
from byok.messages import BackupInput, EnableInput, RestoreInput
from byok.models import Backup, Wallet
from byok.settings import Settings
from workflows.backup import BackupWorkflow
from workflows.enable_byok import EnableByokWorkflow
from workflows.restore import RestoreWorkflow


async def start_enable(client: Client, engine: Engine, settings: Settings, *, tenant: str,
                       account: str, accept_irretrievable: bool, accept_immutable: bool,
                       actor: str) -> enablement.Issued:
    """Issue the token (committed before the stack can call back), then start the workflow."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        issued = enablement.issue(session, settings, t, account,
                                  accept_irretrievable=accept_irretrievable,
                                  accept_immutable=accept_immutable, actor=actor)
    try:
        handle = await client.start_workflow(
            EnableByokWorkflow.run,
            EnableInput(issued.tenant_id, issued.account_id, issued.expires_at.isoformat(),
                        settings.token_ttl_days * 86400, actor, settings.poll_initial_seconds,
                        settings.poll_max_seconds),
            id=issued.workflow_id, task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    except WorkflowAlreadyStartedError:
        with session_scope(engine) as session:
            enablement.void_token(session, issued.tenant_id)
        raise Conflict("an enablement is already running for this tenant",
                       code="ENABLE_IN_PROGRESS") from None
    with session_scope(engine) as session:
        wallet = session.get(Wallet, issued.tenant_id)
        if wallet:
            wallet.run_id = handle.result_run_id
            session.add(wallet)
    return issued


async def deliver_callback(client: Client, engine: Engine,
                           payload: dict[str, Any]) -> dict[str, Any]:
    """Authenticate a stack callback by its token and hand it to the waiting workflow."""
    with session_scope(engine) as session:
        row, callback, replayed = enablement.accept_callback(session, payload)
        tenant_id, workflow_id = row.tenant_id, row.workflow_id
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(EnableByokWorkflow.stack_callback, callback)
    except RPCError:
        # The workflow already finished (a replay after Enabled): nothing left to deliver.
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
    out: dict[str, Any] = {
        "tenant_id": t.id, "tenant_name": t.name, "state": "NotConfigured",
        "error_code": None, "error_message": None, "key_errors": {},
        "account_native_id": None, "role_arn": None, "key_arn": None, "replica_key_arns": {},
        "installed_regions": [], "supported_regions": regions, "stack_version": None,
        "available_version": cfn.CURRENT_TEMPLATE_VERSION, "deployment_url": None,
        "template_url": enablement.template_url(settings), "token": None, "progress": [],
        "workflow_id": None, "temporal_ui_url": None,
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
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details else {}
            code = details.get("code") if isinstance(details, dict) else None
            raise ByokError(cause.message, code=code or cause.type or "FAILED") from None
        raise


def backup_view(engine: Engine, tenant_id: str, backup_id: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        row = backups.get_backup(session, tenant_id, backup_id)
        return backup_dict(row)


def backup_dict(row: Backup) -> dict[str, Any]:
    return {"id": row.id, "tenant_id": row.tenant_id, "workload": row.workload,
            "source": row.source, "region": row.region, "plaintext_size": row.plaintext_size,
            "stored_size": row.stored_size, "sha256": row.sha256, "key_arn": row.key_arn,
            "key_kind": row.key_kind, "status": row.status, "error": row.error,
            "created_at": row.created_at.isoformat(),
            "completed_at": row.completed_at.isoformat() if row.completed_at else None}


def list_backups(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return [backup_dict(b) for b in backups.list_backups(session, t.id)]
