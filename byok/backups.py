"""Backup and restore bookkeeping with no Temporal: plans, catalog rows, their outcomes."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlmodel import Session, col, select

from byok import audit, connections, crud, health, keyring
from byok.errors import Conflict, InvalidInput, NotFound
from byok.messages import (
    BackupInput,
    BackupPlan,
    BackupResult,
    RestoreInput,
    RestorePlan,
    RestoreResult,
)
from byok.models import Backup, Restore, utcnow
from byok.regions import AWS_REGIONS
from byok.settings import Settings
from byok.workloads import check_source, parse_workload


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10)}"


def source_account(session: Session, tenant_id: str, region: str) -> str:
    for conn in crud.connections(session, tenant_id=tenant_id):
        if region in conn.regions:
            return conn.account_id
    raise InvalidInput(f"region {region} is not connected for this tenant", field="region")


def uploads_dir(settings: Settings, tenant_id: str) -> Path:
    """Where a tenant's files for `file://` backups through the API must lie."""
    return settings.home.resolve() / "uploads" / tenant_id


def check_tenant_file(settings: Settings, tenant_id: str, source: str) -> None:
    """Through the API a tenant may back up only its own uploads, never a file of the
    server's (the CLI, run by the operator, may name any file)."""
    if not source.startswith("file://"):
        return
    path = Path(source.removeprefix("file://")).resolve()
    if uploads_dir(settings, tenant_id) not in path.parents:
        raise InvalidInput("file sources must lie in your uploads folder "
                           f"(uploads/{tenant_id}/ under the service's home)", field="source")


def validate_backup(session: Session, inp: BackupInput) -> None:
    """Everything about the request itself; refused before a workflow starts."""
    crud.get_tenant(session, ref=inp.tenant_id)
    workload = parse_workload(inp.workload)
    check_source(workload, inp.source)
    if inp.region not in AWS_REGIONS:
        raise InvalidInput(f"unknown AWS region {inp.region!r}", field="region")
    source_account(session, inp.tenant_id, inp.region)
    if inp.source.split("://", 1)[0] in connections.AWS_SCHEMES:
        connections.verified_for(session, tenant_id=inp.tenant_id, region=inp.region)


def plan_backup(session: Session, inp: BackupInput) -> BackupPlan:
    """Create (or, on retry, reuse) the pending catalog row and pick the key."""
    validate_backup(session, inp)
    row = session.get(Backup, inp.backup_id)
    if row is not None:
        if row.tenant_id != inp.tenant_id:
            raise Conflict("backup id already in use", field="backup_id")
        return _plan_of(session, row)
    health.backup_gate(session, inp.tenant_id, inp.region)  # paused while the key is unwell
    choice = keyring.choose_backup_key(session, inp.tenant_id, inp.region)
    row = Backup(id=inp.backup_id, tenant_id=inp.tenant_id, workload=parse_workload(inp.workload),
                 source=inp.source, region=inp.region, key_arn=choice.key_arn,
                 key_kind=choice.kind, key_generation=choice.generation,
                 object_key=f"{inp.tenant_id}/{inp.backup_id}.byok")
    session.add(row)
    session.flush()
    audit.append(session, tenant_id=inp.tenant_id, actor=inp.requested_by,
                 action="backup.started",
                 details={"backup_id": row.id, "workload": row.workload, "region": row.region,
                          "source": row.source, "key_kind": row.key_kind},
                 event_key=f"backup.started/{row.id}")
    return _plan_of(session, row)


def _plan_of(session: Session, row: Backup) -> BackupPlan:
    return BackupPlan(row.tenant_id, row.id, row.workload, row.source, row.region, row.key_kind,
                      row.key_arn, row.object_key,
                      source_account(session, row.tenant_id, row.region))


def finish_backup(session: Session, result: BackupResult) -> None:
    row = session.get(Backup, result.backup_id)
    if row is None:
        raise NotFound(f"no backup {result.backup_id}")
    if row.status == "complete":
        return  # a retried finish after success
    if result.ok:
        row.status, row.key_arn = "complete", result.key_arn
        row.plaintext_size, row.stored_size = result.plaintext_size, result.stored_size
        row.digest_alg = result.digest_alg
        row.digest = result.digest or result.sha256  # results of older workers: sha256 only
        row.sha256 = row.digest if row.digest_alg == "sha256" else None
        row.completed_at = utcnow()
        details = {"backup_id": row.id, "bytes": row.plaintext_size, "key_arn": row.key_arn,
                   "key_kind": row.key_kind, "digest_alg": row.digest_alg,
                   "digest": row.digest}
    else:
        row.status, row.error = "failed", f"{result.error_code}: {result.error_message}"
        details = {"backup_id": row.id, "code": result.error_code,
                   "message": result.error_message}
    session.add(row)
    audit.append(session, tenant_id=row.tenant_id, actor="workflow",
                 action="backup.completed" if result.ok else "backup.failed", details=details,
                 event_key=f"backup.finished/{row.id}")


def get_backup(session: Session, tenant_id: str, backup_id: str) -> Backup:
    row = session.get(Backup, backup_id)
    if row is None or row.tenant_id != tenant_id:  # another tenant's backup does not exist
        raise NotFound(f"no backup {backup_id}", field="backup")
    return row


def list_backups(session: Session, tenant_id: str) -> list[Backup]:
    return list(session.exec(select(Backup).where(Backup.tenant_id == tenant_id)
                             .order_by(col(Backup.created_at).desc())).all())


def validate_restore(session: Session, inp: RestoreInput) -> Backup:
    row = get_backup(session, inp.tenant_id, inp.backup_id)
    if row.status == "irretrievable":
        raise Conflict(f"backup {row.id} is irretrievable: its key {row.key_arn} was deleted",
                       code="BACKUP_IRRETRIEVABLE")
    if row.status != "complete":
        raise Conflict(f"backup {row.id} is {row.status}, not complete", code="BACKUP_NOT_READY")
    target = Path(inp.target)
    if not target.parent.is_dir():
        raise InvalidInput(f"the folder {target.parent} does not exist", field="target")
    if target.exists() and not inp.force:
        raise Conflict(f"{target} already exists; pass --force to replace it", field="target")
    return row


def plan_restore(session: Session, inp: RestoreInput) -> RestorePlan:
    row = validate_restore(session, inp)
    if session.get(Restore, inp.restore_id) is None:
        session.add(Restore(id=inp.restore_id, tenant_id=inp.tenant_id, backup_id=row.id,
                            target=inp.target))
        session.flush()
        audit.append(session, tenant_id=inp.tenant_id, actor=inp.requested_by,
                     action="restore.started",
                     details={"restore_id": inp.restore_id, "backup_id": row.id,
                              "target": inp.target},
                     event_key=f"restore.started/{inp.restore_id}")
    return RestorePlan(inp.tenant_id, inp.restore_id, row.id, inp.target, inp.force,
                       row.object_key, row.key_arn, row.workload, row.region, row.sha256 or "",
                       row.plaintext_size, row.digest or row.sha256 or "", row.digest_alg)


def finish_restore(session: Session, result: RestoreResult) -> None:
    row = session.get(Restore, result.restore_id)
    if row is None or row.status != "pending":
        return
    row.status = "complete" if result.ok else "failed"
    row.error = None if result.ok else f"{result.error_code}: {result.error_message}"
    row.completed_at = utcnow()
    session.add(row)
    audit.append(session, tenant_id=row.tenant_id, actor="workflow",
                 action="restore.completed" if result.ok else "restore.failed",
                 details={"restore_id": row.id, "backup_id": row.backup_id,
                          "bytes": result.plaintext_size, "code": result.error_code},
                 event_key=f"restore.finished/{row.id}")
