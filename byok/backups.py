"""Backup and restore bookkeeping with no Temporal: plans, catalog rows, their outcomes."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import BinaryIO, TypeVar

from sqlmodel import Session, col, select

from byok import audit, connections, crud, health, keyring
from byok.confine import Spot, open_dir, open_regular
from byok.errors import ByokError, Conflict, InvalidInput, NotFound
from byok.messages import (
    BackupInput,
    BackupPlan,
    BackupResult,
    RestoreInput,
    RestorePlan,
    RestoreResult,
)
from byok.models import Backup, Restore, Tenant, utcnow
from byok.regions import AWS_REGIONS
from byok.settings import Settings
from byok.sources import Source, path_parts
from byok.workloads import check_source, parse_workload


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10)}"


def source_account(session: Session, tenant_id: str, region: str) -> str:
    for conn in crud.connections(session, tenant_id=tenant_id):
        if region in conn.regions:
            return conn.account_id
    raise InvalidInput(f"region {region} is not connected for this tenant", field="region")


def uploads_dir(settings: Settings, tenant_id: str) -> Path:
    """The only folder `file://` sources may lie in: the tenant's uploads (the API's upload
    route writes there; the operator's CLI links or copies server files in)."""
    return settings.home.resolve() / "uploads" / tenant_id


def restores_dir(settings: Settings, tenant_id: str) -> Path:
    """The only folder restores are written to: the tenant's own, under the service's home."""
    return settings.home.resolve() / "restores" / tenant_id


def tenant_file(settings: Settings, tenant_id: str, source: Source) -> tuple[str, ...]:
    """The file source's components under the uploads root, the tenant's folder first;
    InvalidInput when it lies anywhere else (decided on the parsed parts)."""
    return (tenant_id, *source.below(uploads_dir(settings, tenant_id)))


def open_tenant_file(settings: Settings, tenant_id: str, source: Source) -> BinaryIO:
    """The tenant's uploaded file, opened without following any link, regular files only."""
    parts = tenant_file(settings, tenant_id, source)
    return open_regular(uploads_dir(settings, tenant_id).parent, parts,
                        shown=f"uploads/{'/'.join(parts)}", field="source")


def restore_spot(settings: Settings, tenant_id: str, target: str, *,
                 create: bool = False) -> Spot:
    """The restore target as a Spot in the tenant's restores folder, or InvalidInput: a
    target elsewhere is refused by its text alone, so the answer never depends on whether
    another tenant's file exists."""
    root = restores_dir(settings, tenant_id)
    parts = path_parts(target, field="target") if target.startswith("/") else \
        (*root.parts[1:], *path_parts("/" + target, field="target"))
    base = root.parts[1:]
    if len(parts) <= len(base) or parts[:len(base)] != base:
        raise InvalidInput(f"the target must be inside your restores folder "
                           f"(restores/{tenant_id}/ under the service's home)", field="target")
    rel = parts[len(base):]
    if create:  # the tenant's folder (0700), never a sub-folder a target names
        os.close(open_dir(root.parent, (tenant_id,), shown=tenant_id, field="target",
                          create=True))
    return Spot(root.parent, (tenant_id, *rel), shown="/".join(rel), field="target")


def validate_backup(session: Session, inp: BackupInput) -> Source:
    """Everything about the request itself; refused before a workflow starts."""
    crud.get_tenant(session, ref=inp.tenant_id)
    workload = parse_workload(inp.workload)
    source = check_source(workload, inp.source)  # the one strict parse
    if inp.region not in AWS_REGIONS:
        raise InvalidInput(f"unknown AWS region {inp.region!r}", field="region")
    source_account(session, inp.tenant_id, inp.region)
    if source.kind in connections.AWS_SCHEMES:
        connections.verified_for(session, tenant_id=inp.tenant_id, region=inp.region)
    return source


def plan_backup(session: Session, settings: Settings, inp: BackupInput) -> BackupPlan:
    """Create (or, on retry, reuse) the pending catalog row and pick the key. A file source
    must lie in the tenant's uploads whoever started the workflow (the worker trusts no
    starter; operators stage server files there, see control.backups)."""
    source = validate_backup(session, inp)
    if source.kind == "file":
        tenant_file(settings, inp.tenant_id, source)
    row = session.get(Backup, inp.backup_id)
    if row is not None:
        if row.tenant_id != inp.tenant_id:
            raise Conflict("backup id already in use", field="backup_id")
        return _plan_of(session, row)
    health.backup_gate(session, inp.tenant_id, inp.region)  # paused while the key is unwell
    choice = keyring.choose_backup_key(session, inp.tenant_id, inp.region)
    row = Backup(id=inp.backup_id, tenant_id=inp.tenant_id, workload=parse_workload(inp.workload),
                 source=source.url, region=inp.region, key_arn=choice.key_arn,
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


def refuse_backup(session: Session, inp: BackupInput, exc: ByokError) -> None:
    """A source the worker refuses still leaves its trace: a failed row with the reason and
    a `backup.failed` event (a workflow started around control/ is recorded, not lost)."""
    if session.get(Backup, inp.backup_id) is not None or \
            session.get(Tenant, inp.tenant_id) is None:
        return
    error = f"{exc.code}: {exc.message}"[:2000]
    session.add(Backup(id=inp.backup_id, tenant_id=inp.tenant_id, workload=inp.workload[:32],
                       source=inp.source[:2048], region=inp.region[:32], key_arn="",
                       key_kind="none", object_key="", status="failed", error=error,
                       completed_at=utcnow()))
    session.flush()
    audit.append(session, tenant_id=inp.tenant_id, actor="workflow", action="backup.failed",
                 details={"backup_id": inp.backup_id, "code": exc.code,
                          "message": exc.message, "requested_by": inp.requested_by[:100]},
                 event_key=f"backup.finished/{inp.backup_id}")


def refuse_restore(session: Session, inp: RestoreInput, exc: ByokError) -> None:
    """As refuse_backup, for a restore whose target the worker refuses."""
    backup = session.get(Backup, inp.backup_id)
    if session.get(Restore, inp.restore_id) is not None or backup is None or \
            backup.tenant_id != inp.tenant_id:
        return
    session.add(Restore(id=inp.restore_id, tenant_id=inp.tenant_id, backup_id=backup.id,
                        target=inp.target[:2048], status="failed",
                        error=f"{exc.code}: {exc.message}"[:2000], completed_at=utcnow()))
    session.flush()
    audit.append(session, tenant_id=inp.tenant_id, actor="workflow", action="restore.failed",
                 details={"restore_id": inp.restore_id, "backup_id": backup.id,
                          "code": exc.code, "message": exc.message},
                 event_key=f"restore.finished/{inp.restore_id}")


PlanT = TypeVar("PlanT", BackupPlan, RestorePlan)


def _differs_beyond_timing(held: PlanT, given: PlanT) -> bool:
    """True when the plans differ in anything but the heartbeat timeout (which settings give
    the plan step, not the catalog; it bounds only that run's own waiting)."""
    return dataclasses.replace(held, heartbeat_seconds=given.heartbeat_seconds) != given


def check_backup_plan(session: Session, plan: BackupPlan) -> None:
    """The plan a transfer is handed must be the one the catalog holds (tenant, key, source,
    object, account): the worker takes the tenant binding from the database, not its input."""
    row = session.get(Backup, plan.backup_id)
    if row is None or row.status != "pending" or \
            _differs_beyond_timing(_plan_of(session, row), plan):
        raise InvalidInput(f"backup {plan.backup_id} has no pending catalog entry matching "
                           "this plan", code="PLAN_MISMATCH")


def check_restore_plan(session: Session, plan: RestorePlan) -> None:
    """As check_backup_plan, for a restore: its row, its backup's key and object, its target."""
    row = session.get(Restore, plan.restore_id)
    backup = session.get(Backup, row.backup_id) if row is not None else None
    if row is None or backup is None or row.status != "pending" or \
            _differs_beyond_timing(_restore_plan_of(row, backup, plan.force), plan):
        raise InvalidInput(f"restore {plan.restore_id} has no pending catalog entry matching "
                           "this plan", code="PLAN_MISMATCH")


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
    return row


def plan_restore(session: Session, settings: Settings, inp: RestoreInput) -> RestorePlan:
    """The target is checked here too (the worker's side): inside the tenant's restores
    folder, reached without links, not existing unless `force`."""
    row = validate_restore(session, inp)
    with restore_spot(settings, inp.tenant_id, inp.target, create=True) as spot:
        spot.check_writable(inp.force)
    restore = session.get(Restore, inp.restore_id)
    if restore is None:
        restore = Restore(id=inp.restore_id, tenant_id=inp.tenant_id, backup_id=row.id,
                          target=inp.target)
        session.add(restore)
        session.flush()
        audit.append(session, tenant_id=inp.tenant_id, actor=inp.requested_by,
                     action="restore.started",
                     details={"restore_id": inp.restore_id, "backup_id": row.id,
                              "target": inp.target},
                     event_key=f"restore.started/{inp.restore_id}")
    elif restore.tenant_id != inp.tenant_id:
        raise Conflict("restore id already in use", field="restore_id")
    return _restore_plan_of(restore, row, inp.force)


def _restore_plan_of(restore: Restore, row: Backup, force: bool) -> RestorePlan:
    return RestorePlan(restore.tenant_id, restore.id, row.id, restore.target, force,
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
