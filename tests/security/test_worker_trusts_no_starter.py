"""Attack: skip the web layer and start workflows on Temporal directly (anyone who can reach
the frontend), or hand an activity a forged plan: the worker must re-validate the source, the
restore target and the tenant binding itself, fail for good, and leave the failure on record."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.storage import FileStore
from byok import audit, backups
from byok.db import session_scope
from byok.keycache import KeyCache
from byok.messages import BackupInput, BackupPlan, RestoreInput
from byok.models import Backup, Restore
from byok.settings import Settings
from tests.security.paths import restores_dir
from tests.web.conftest import NewTenant
from tests.web.test_api_health import backup_done
from workflows.backup import BackupWorkflow
from workflows.restore import RestoreWorkflow

PASSWD = Path("/etc/passwd")


def cause_of(exc: WorkflowFailureError) -> ApplicationError:
    cause = exc.cause.cause if isinstance(exc.cause, ActivityError) else exc.cause
    assert isinstance(cause, ApplicationError), exc.cause
    return cause



async def test_a_backup_of_a_server_file_started_on_temporal_fails_on_record(
        client: Any, new_tenant: NewTenant, temporal_env: Any, settings: Settings,
        engine: Engine, worker: Any) -> None:
    tenant = await new_tenant()
    inp = BackupInput(tenant.id, "bk-direct", "vmware_vm", f"file://{PASSWD}", "us-east-1",
                      "operator")
    with pytest.raises(WorkflowFailureError) as info:
        await temporal_env.client.execute_workflow(
            BackupWorkflow.run, inp, id="backup-bk-direct", task_queue=settings.task_queue)
    cause = cause_of(info.value)
    assert cause.type == "InvalidInput" and cause.non_retryable
    assert "uploads folder" in cause.message
    with session_scope(engine) as session:
        row = session.get(Backup, "bk-direct")
        assert row is not None and row.status == "failed" and row.plaintext_size == 0
        assert row.error is not None and "uploads folder" in row.error
        [event] = [e for e in audit.history(session, tenant.id) if e.action == "backup.failed"]
        assert event.details["backup_id"] == "bk-direct"
        assert event.details["code"] == "INVALID_INPUT"


async def test_a_restore_outside_the_tenants_folder_started_on_temporal_fails_on_record(
        client: Any, new_tenant: NewTenant, temporal_env: Any, settings: Settings,
        engine: Engine, worker: Any, tmp_path: Path) -> None:
    tenant, other = await new_tenant(), await new_tenant("globex")
    made = await backup_done(client, tenant, settings, "us-east-1", b"secret rows" * 50)
    victim = restores_dir(settings, other.id) / "theirs"
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"the other tenant's file")
    for n, target in enumerate((tmp_path / "anywhere", victim)):
        inp = RestoreInput(tenant.id, f"rs-direct-{n}", made["id"], str(target), True,
                           "operator")
        with pytest.raises(WorkflowFailureError) as info:
            await temporal_env.client.execute_workflow(
                RestoreWorkflow.run, inp, id=f"restore-rs-direct-{n}",
                task_queue=settings.task_queue)
        cause = cause_of(info.value)
        assert cause.type == "InvalidInput" and cause.non_retryable
        assert "your restores folder" in cause.message
        with session_scope(engine) as session:
            row = session.get(Restore, f"rs-direct-{n}")
            assert row is not None and row.status == "failed" and row.error
    assert not (tmp_path / "anywhere").exists()
    assert victim.read_bytes() == b"the other tenant's file"


async def test_a_forged_plan_naming_another_tenant_is_refused_before_any_read(
        client: Any, new_tenant: NewTenant, settings: Settings, engine: Engine,
        worker: Any, aws: Any) -> None:
    """The transfer activity is handed a plan: tenant, key, object, account. One changed field
    (here: the backup re-labelled as another tenant's, its key and object kept) is refused,
    by comparison with the catalog, not by trusting the plan."""
    from activities.vault import VaultActivities

    alice, mallory = await new_tenant(), await new_tenant("mallory")
    made = await backup_done(client, alice, settings, "us-east-1", b"alice's data")
    with session_scope(engine) as session:
        row = session.get(Backup, made["id"])
        assert row is not None
        row.status = "pending"  # as if the transfer were about to run
        session.add(row)
        honest = BackupPlan(row.tenant_id, row.id, row.workload, row.source, row.region,
                            row.key_kind, row.key_arn, row.object_key,
                            backups.source_account(session, row.tenant_id, row.region))
    acts = VaultActivities(aws, engine, settings, FileStore(settings.vault_dir),
                           KeyCache())
    forged = [replace(honest, tenant_id=mallory.id),
              replace(honest, key_arn="arn:aws:kms:us-east-1:999999999999:key/mrk-0"),
              replace(honest, source_account="999999999999"),
              replace(honest, source=f"file://{PASSWD}")]
    for plan in forged:
        with pytest.raises(ApplicationError) as info:
            ActivityEnvironment().run(acts.write_backup, plan)
        assert info.value.type == "InvalidInput" and info.value.non_retryable
        assert (info.value.details[0] or {})["code"] == "PLAN_MISMATCH"
    done = ActivityEnvironment().run(acts.write_backup, honest)  # the catalog's own plan runs
    assert done.ok and done.plaintext_size == len(b"alice's data")


async def test_the_operators_explicit_path_to_server_files(
        client: Any, new_tenant: NewTenant, temporal_env: Any, settings: Settings,
        engine: Engine, worker: Any, tmp_path: Path) -> None:
    """The CLI (control.run_backup / run_restore without as_tenant) may name server paths:
    the file is staged into the tenant's uploads, the restore moved out of its folder."""
    from byok.backups import uploads_dir
    from control.backups import run_backup
    from control.restores import run_restore
    from tests.lazy import lazy

    tenant = await new_tenant()
    server_file = tmp_path / "export.bin"
    server_file.write_bytes(b"operator export" * 100)
    made = await run_backup(engine, settings, lazy(temporal_env.client), tenant=tenant.id,
                            workload="vmware_vm", source=f"file://{server_file}",
                            region=None, actor="cli")
    assert made["status"] == "complete" and made["plaintext_size"] == 1500
    assert made["source"].startswith(f"file://{uploads_dir(settings, tenant.id)}/")
    assert list(uploads_dir(settings, tenant.id).iterdir()) == []  # the staged link is gone
    assert server_file.read_bytes() == b"operator export" * 100
    out = tmp_path / "restored.bin"
    done = await run_restore(engine, settings, lazy(temporal_env.client), tenant=tenant.id,
                             backup_id=made["id"], target=str(out), force=False, actor="cli")
    assert done["target"] == str(out) and out.read_bytes() == b"operator export" * 100
    assert list(restores_dir(settings, tenant.id).iterdir()) == []  # moved, not copied
