"""The catalog's plaintext digest: BLAKE3 for new backups, SHA-256 backups from before still
restore and are checked with SHA-256, and a failing stage of the pipelined transfer leaves
nothing behind."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import blake3
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio import activity

import worker as worker_module
from activities.storage import FileStore
from activities.vault import VaultActivities
from byok import crud
from byok.db import make_engine, migrate, session_scope
from byok.errors import ByokError
from byok.messages import BackupPlan, BackupResult
from byok.models import Backup
from byok.settings import Settings
from control.catalog import list_backups
from tests.workflows.test_backup_faults import backup, restore, worker_with

DATA = bytes(range(256)) * 12_000 + b"tail"  # about 3 MiB: several frames and chunks


async def test_new_backups_are_checksummed_with_blake3(
        temporal_env: Any, engine: Engine, settings: Settings, worker: Any, tenant: str,
        tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(DATA)
    made = await backup(temporal_env, engine, settings, tenant, tmp_path / "src")
    with session_scope(engine) as session:
        row = session.get(Backup, made["id"])
        assert row is not None
        assert row.digest_alg == "blake3" and row.digest == blake3.blake3(DATA).hexdigest()
        assert row.sha256 is None  # the column keeps meaning what its name says
    await restore(temporal_env, engine, settings, tenant, made["id"], tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == DATA


async def test_sha256_backups_from_before_restore_and_are_checked_with_sha256(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str,
        tmp_path: Path) -> None:
    """A backup written as the code before BLAKE3 wrote it (SHA-256) restores with today's
    worker, which checks it with SHA-256; a wrong recorded digest fails the restore."""
    (tmp_path / "src").write_bytes(DATA)
    old = VaultActivities(aws, engine, settings, worker_module.vault_store(settings, aws),
                          worker_module.key_cache(settings), digest_alg="sha256")

    @activity.defn(name="write_backup")
    def write_backup(plan: BackupPlan) -> BackupResult:
        return old.write_backup(plan)

    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker_with(temporal_env, settings, engine, aws, executor, write_backup):
            made = await backup(temporal_env, engine, settings, tenant, tmp_path / "src")
        with session_scope(engine) as session:
            row = session.get(Backup, made["id"])
            assert row is not None and row.digest_alg == "sha256"
            assert row.sha256 == row.digest == hashlib.sha256(DATA).hexdigest()
        async with worker_module.build_worker(temporal_env.client, settings, engine, aws,
                                              executor):
            await restore(temporal_env, engine, settings, tenant, made["id"], tmp_path / "out")
            assert (tmp_path / "out").read_bytes() == DATA
            with session_scope(engine) as session:
                row = session.get(Backup, made["id"])
                assert row is not None
                row.digest = hashlib.sha256(b"something else").hexdigest()
                session.add(row)
            with pytest.raises(ByokError) as info:
                await restore(temporal_env, engine, settings, tenant, made["id"],
                              tmp_path / "out2")
    assert info.value.code == "RESTORE_DIGEST_MISMATCH" and "SHA256" in info.value.message
    assert not (tmp_path / "out2").exists()


def test_migration_keeps_the_sha256_of_existing_backups(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0005")  # the schema before digests
    with session_scope(engine) as session:
        tenant = crud.create_tenant(session, name="acme").id
    digest = hashlib.sha256(b"old backup").hexdigest()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO backup (id, tenant_id, workload, source, region, plaintext_size, "
            "stored_size, sha256, key_arn, key_kind, object_key, status, created_at) VALUES "
            "('bk-old', :t, 'ebs', 'file:///x', 'us-east-1', 10, 100, :d, 'arn:k', "
            "'default', 'o', 'complete', '2026-01-01 00:00:00')"), {"t": tenant, "d": digest})
    migrate(engine)
    with session_scope(engine) as session:
        row = session.get(Backup, "bk-old")
        assert row is not None
        assert (row.digest_alg, row.digest, row.sha256) == ("sha256", digest, digest)
    engine.dispose()


class _FailingWriter:
    """The real file writer, failing on its third write (header, a frame, then this)."""

    def __init__(self, inner: Any, aborted: threading.Event):
        self.inner, self.aborted, self.writes = inner, aborted, 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        if self.writes == 3:
            raise OSError("no space left on device")
        self.inner.write(data)

    def commit(self) -> None:
        self.inner.commit()

    def abort(self, keep: bool = False) -> None:
        self.aborted.set()
        self.inner.abort(keep)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _FailingStore(FileStore):
    def __init__(self, root: Path, aborted: threading.Event):
        super().__init__(root)
        self.aborted = aborted

    def writer(self, key: str, resume: Any = None) -> Any:
        return _FailingWriter(super().writer(key, resume), self.aborted)


async def test_a_failing_write_stage_aborts_the_object_and_stops_every_stage(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str,
        tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(DATA)
    aborted = threading.Event()
    failing = VaultActivities(aws, engine, settings, _FailingStore(settings.vault_dir, aborted),
                              worker_module.key_cache(settings))
    healthy = VaultActivities(aws, engine, settings, worker_module.vault_store(settings, aws),
                              worker_module.key_cache(settings))
    vault = settings.vault_dir / tenant
    leftovers: list[list[str]] = []

    @activity.defn(name="write_backup")
    def write_backup(plan: BackupPlan) -> BackupResult:
        if activity.info().attempt == 1:
            try:
                return failing.write_backup(plan)
            finally:
                leftovers.append(sorted(p.name for p in vault.iterdir()))
        return healthy.write_backup(plan)

    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker_with(temporal_env, settings, engine, aws, executor, write_backup):
            made = await backup(temporal_env, engine, settings, tenant, tmp_path / "src")
            await restore(temporal_env, engine, settings, tenant, made["id"], tmp_path / "out")
    assert aborted.is_set() and leftovers == [[]]  # the failed attempt left no partial file
    stages = [t.name for t in threading.enumerate() if t.name.startswith(("backup-", "restore-"))]
    assert stages == []  # the read-ahead, hash and write threads all stopped
    assert made["status"] == "complete" and (tmp_path / "out").read_bytes() == DATA
    assert [row["status"] for row in list_backups(engine, tenant)] == ["complete"]
