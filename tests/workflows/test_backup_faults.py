"""Faults during backups and restores: KMS throttling, a worker crash mid-write, a source that
vanishes after the request was accepted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.worker import Worker

import byok.aws as aws_module
import worker as worker_module
from activities.storage import FileStore
from activities.vault import VaultActivities
from byok import audit
from byok.backups import uploads_dir
from byok.db import session_scope
from byok.errors import ByokError
from byok.messages import BackupPlan, BackupResult
from byok.settings import Settings
from control.backups import result, run_backup, start_backup
from control.catalog import list_backups
from control.restores import run_restore
from tests.lazy import lazy


def backup(env: Any, engine: Engine, settings: Settings, tenant: str, src: Path,
           wait: bool = True) -> Any:
    run = run_backup if wait else start_backup
    return run(engine, settings, lazy(env.client), tenant=tenant, workload="sql_ec2",
               source=f"file://{src}", region=None, actor="test")


def restore(env: Any, engine: Engine, settings: Settings, tenant: str, backup_id: str,
            target: Path) -> Any:
    return run_restore(engine, settings, lazy(env.client), tenant=tenant,
                       backup_id=backup_id, target=str(target), force=False, actor="test")


def remaining(localaws: Any, operation: str) -> int:
    return sum(f["count"] or 0 for f in localaws.faults() if f["operation"] == operation)


@pytest.mark.parametrize("layer", ["botocore", "temporal"])
async def test_kms_throttling_is_retried(temporal_env: Any, engine: Engine, settings: Settings,
                                         worker: Any, localaws: Any, tenant: str,
                                         tmp_path: Path, layer: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two throttles on each of GenerateDataKey and Decrypt. With botocore's standard retries
    they are absorbed in the client; with them off, each one fails the activity as Throttled
    (retryable) and Temporal retries it."""
    if layer == "temporal":
        monkeypatch.setattr(aws_module, "RETRY_CONFIG",
                            Config(retries={"mode": "standard", "max_attempts": 1}))
    data = b"throttled but fine" * 10_000
    (tmp_path / "src").write_bytes(data)
    localaws.inject_fault("kms", "GenerateDataKey", count=2)
    made = await backup(temporal_env, engine, settings, tenant, tmp_path / "src")
    assert made["status"] == "complete"
    assert remaining(localaws, "GenerateDataKey") == 0  # every throttle was really hit
    localaws.inject_fault("kms", "Decrypt", count=2)
    out = tmp_path / "out"
    done = await restore(temporal_env, engine, settings, tenant, made["id"], out)
    assert remaining(localaws, "Decrypt") == 0
    assert out.read_bytes() == data
    if layer == "temporal":
        for workflow_id in (f"backup-{made['id']}", f"restore-{done['restore_id']}"):
            assert await transfer_attempts(temporal_env, workflow_id) >= 2


async def transfer_attempts(env: Any, workflow_id: str) -> int:
    """The attempt number that completed the workflow's write_backup / read_restore."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return max(e.activity_task_started_event_attributes.attempt for e in history.events
               if e.HasField("activity_task_started_event_attributes"))


class _CrashingWriter:
    """Dies after the first frame is on disk: no commit and, as in a killed process, no abort."""

    def __init__(self, inner: Any, crashed: threading.Event):
        self.inner, self.crashed, self.writes = inner, crashed, 0

    def write(self, data: bytes) -> None:
        self.inner.write(data)
        self.writes += 1
        if self.writes == 2:  # header, then one frame
            self.inner.fh.flush()
            self.crashed.set()
            raise RuntimeError("worker process killed")

    def commit(self) -> None:
        raise AssertionError("never reached")

    def abort(self, keep: bool = False) -> None:
        pass  # a killed worker cleans nothing up

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _CrashingStore(FileStore):
    def __init__(self, root: Path, crashed: threading.Event):
        super().__init__(root)
        self.crashed = crashed

    def writer(self, key: str, resume: Any = None) -> Any:
        return _CrashingWriter(super().writer(key, resume), self.crashed)


def worker_with(env: Any, settings: Settings, engine: Engine, aws: Any,
                executor: ThreadPoolExecutor, write_backup: Callable[[BackupPlan], BackupResult]
                ) -> worker_module.WorkerGroup:
    """The real worker's activities, with write_backup replaced on the transfer queue. No
    workflow cache: the time-skipping server never moves a task off a stopped worker's
    sticky queue."""
    acts = [a for a in worker_module.activities(settings, engine, aws)
            if getattr(a, "__name__", "") != "write_backup"]
    return worker_module.WorkerGroup([
        Worker(env.client, task_queue=settings.task_queue, workflows=worker_module.WORKFLOWS,
               activities=acts, activity_executor=executor, max_cached_workflows=0),
        Worker(env.client, task_queue=settings.transfer_task_queue, activity_executor=executor,
               activities=[*(a for a in acts if worker_module.activity_name(a)
                             in worker_module.TRANSFER_ACTIVITIES), write_backup])])


async def test_worker_crash_mid_backup_finishes_exactly_once(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str,
        tmp_path: Path) -> None:
    data = bytes(range(256)) * 16_384  # 4 MiB: four frames, the crash comes after the first
    (tmp_path / "src").write_bytes(data)
    crashed = threading.Event()
    attempts: list[int] = []
    dying = VaultActivities(aws, engine, settings, _CrashingStore(settings.vault_dir, crashed),
                            worker_module.key_cache(settings))
    healthy = VaultActivities(aws, engine, settings, worker_module.vault_store(settings, aws),
                              worker_module.key_cache(settings))

    @activity.defn(name="write_backup")
    def write_backup_then_die(plan: BackupPlan) -> BackupResult:
        attempts.append(activity.info().attempt)
        return dying.write_backup(plan)

    @activity.defn(name="write_backup")
    def write_backup(plan: BackupPlan) -> BackupResult:
        attempts.append(activity.info().attempt)
        return healthy.write_backup(plan)

    vault = settings.vault_dir / tenant
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker_with(temporal_env, settings, engine, aws, executor,
                               write_backup_then_die):
            started = await backup(temporal_env, engine, settings, tenant, tmp_path / "src",
                                   wait=False)
            assert await asyncio.to_thread(crashed.wait, 30)
        # Worker 1 is gone, leaving a partial object behind and the row pending.
        assert [p.suffix for p in vault.iterdir()] == [".partial"]
        [pending] = list_backups(engine, tenant)
        assert pending["status"] == "pending"
        async with worker_with(temporal_env, settings, engine, aws, executor, write_backup):
            handle = temporal_env.client.get_workflow_handle(started["workflow_id"],
                                                             result_type=BackupResult)
            result = await handle.result()
            assert result.ok and result.plaintext_size == len(data)
            out = tmp_path / "restored"
            await restore(temporal_env, engine, settings, tenant, started["backup_id"], out)
    assert attempts == [1, 2]
    assert out.read_bytes() == data
    [row] = list_backups(engine, tenant)
    assert row["id"] == started["backup_id"] and row["status"] == "complete"
    assert [p.name for p in vault.iterdir()] == [f"{row['id']}.byok"]  # no .partial left
    with session_scope(engine) as session:
        actions_seen = [e.action for e in audit.history(session, tenant)]
    assert actions_seen.count("backup.started") == 1
    assert actions_seen.count("backup.completed") == 1


async def test_source_that_vanishes_fails_the_backup(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str,
        tmp_path: Path) -> None:
    src = uploads_dir(settings, tenant) / "src"  # an upload: read in place, not staged
    src.parent.mkdir(parents=True)
    src.write_bytes(b"here when asked, gone when read")
    # Accepted (the source existed), but no worker runs yet; then the file disappears.
    started = await backup(temporal_env, engine, settings, tenant, src, wait=False)
    src.unlink()
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker_module.build_worker(temporal_env.client, settings, engine, aws,
                                              executor):
            handle = temporal_env.client.get_workflow_handle(started["workflow_id"])
            with pytest.raises(ByokError) as info:
                await result(handle)
    assert info.value.code == "NOT_FOUND" and f"uploads/{tenant}/src" in info.value.message
    [row] = list_backups(engine, tenant)
    assert row["status"] == "failed" and "NOT_FOUND" in row["error"]
    assert not (settings.vault_dir / tenant).exists() or not list(
        (settings.vault_dir / tenant).iterdir())
