"""Vault storage: FileStore and S3Store (on localaws) commit atomically, and a full backup and
restore through the workflows with the S3 vault."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from activities.storage import READ_BLOCK, S3_PARALLEL, S3_PART, FileStore, S3Store
from byok import crud
from byok.db import session_scope
from byok.errors import NotFound
from byok.settings import Settings, load_settings
from control.backups import run_backup
from control.restores import run_restore
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from tests.lazy import lazy
from worker import build_worker, vault_store

KEY = "tenant-1/bk-1.byok"


def test_file_commit_makes_the_object_visible(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    w = store.writer(KEY)
    w.write(b"header")
    w.write(b"frames")
    assert not store.exists(KEY)  # nothing visible before commit
    with pytest.raises(NotFound):
        store.reader(KEY)
    w.commit()
    assert store.exists(KEY)
    with store.reader(KEY) as fh:
        assert fh.read() == b"headerframes"
    assert [p.name for p in (tmp_path / "tenant-1").iterdir()] == ["bk-1.byok"]


def test_file_abort_and_crash_leave_nothing_that_looks_complete(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    w = store.writer(KEY)
    w.write(b"half a backup")
    w.abort()
    assert not store.exists(KEY) and not list((tmp_path / "tenant-1").iterdir())
    crashed = store.writer(KEY)
    crashed.write(b"half a backup")
    crashed.fh.flush()  # a crash: no commit, no abort, the bytes are on disk
    assert not store.exists(KEY)
    [left] = (tmp_path / "tenant-1").iterdir()
    assert left.name.endswith(".partial")
    retry = store.writer(KEY)
    retry.write(b"the whole backup")
    retry.commit()
    assert store.reader(KEY).read() == b"the whole backup"
    # The retry's commit cleared what the crashed attempt left behind.
    assert [p.name for p in (tmp_path / "tenant-1").iterdir()] == ["bk-1.byok"]


def test_file_late_writes_of_a_superseded_attempt_cannot_corrupt(tmp_path: Path) -> None:
    """At-least-once: attempt 1 stalls, attempt 2 commits, then attempt 1 wakes up."""
    store = FileStore(tmp_path)
    stalled = store.writer(KEY)
    stalled.write(b"attempt 1 ")
    retry = store.writer(KEY)
    retry.write(b"attempt 2 complete")
    retry.commit()
    stalled.write(b"more bytes from attempt 1")
    with pytest.raises(FileNotFoundError):
        stalled.commit()  # its temp file is gone: it can never replace the object
    stalled.abort()
    assert store.reader(KEY).read() == b"attempt 2 complete"


def test_file_keys_cannot_escape_the_vault(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        FileStore(tmp_path / "vault").writer("../outside.byok")


@pytest.fixture
def s3_store(aws: Any, settings: Settings) -> S3Store:
    # ensure_service_resources (the aws fixture) made the bucket in the service's account.
    return S3Store(aws.service("s3"), settings.vault_bucket)


def uploads(store: S3Store) -> list[str]:
    out = store.s3.list_multipart_uploads(Bucket=store.bucket)
    return [u["UploadId"] for u in out.get("Uploads", [])]


def test_s3_vault_bucket_is_in_the_service_account(s3_store: S3Store, settings: Settings,
                                                   aws: Any) -> None:
    assert settings.service_account_id == "111122223333"
    # As the account's root: the service role itself has no need to list the bucket.
    assert aws.base("s3").head_bucket(Bucket=settings.vault_bucket)


def test_s3_commit_makes_the_object_visible(s3_store: S3Store) -> None:
    big = bytes(range(256)) * ((S3_PART + 1000) // 256)  # two parts: one full, one short
    w = s3_store.writer(KEY)
    w.write(b"head")
    w.write(big)
    assert not s3_store.exists(KEY)
    with pytest.raises(NotFound):
        s3_store.reader(KEY)
    w.commit()
    assert s3_store.exists(KEY)
    assert s3_store.reader(KEY).read() == b"head" + big
    assert uploads(s3_store) == []


def test_s3_abort_leaves_no_object_and_no_upload(s3_store: S3Store) -> None:
    w = s3_store.writer(KEY)
    w.write(b"x" * 1000)
    w.abort()
    assert not s3_store.exists(KEY)
    assert uploads(s3_store) == []


def test_s3_crash_before_commit_leaves_no_object(s3_store: S3Store) -> None:
    crashed = s3_store.writer(KEY)
    crashed.write(bytes(S3_PART))  # one part really uploaded, then the process dies
    crashed.drain()
    assert len(crashed.parts) == 1
    assert not s3_store.exists(KEY)
    assert uploads(s3_store) == [crashed.upload_id]  # invisible, never completed
    retry = s3_store.writer(KEY)
    retry.write(b"complete backup")
    retry.commit()
    assert s3_store.reader(KEY).read() == b"complete backup"
    assert uploads(s3_store) == []  # the retry aborted the crashed attempt's upload


class _CountingS3:
    """The real client, counting how many upload_part calls overlap (a spy, not a stand-in)."""

    def __init__(self, s3: Any):
        self._s3, self._lock = s3, threading.Lock()
        self.active = self.peak = self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def upload_part(self, **kwargs: Any) -> Any:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(0.2)  # hold the slot so that parts submitted together overlap
            return self._s3.upload_part(**kwargs)
        finally:
            with self._lock:
                self.active -= 1


def test_s3_parts_upload_in_parallel_bounded_and_in_order(s3_store: S3Store) -> None:
    spy = _CountingS3(s3_store.s3)
    store = S3Store(spy, s3_store.bucket)
    parts = [bytes([i]) * S3_PART for i in range(S3_PARALLEL + 3)]  # more parts than slots
    w = store.writer(KEY)
    for part in parts:
        w.write(part)
    w.write(b"tail")
    w.commit()
    assert spy.calls == len(parts) + 1
    assert 1 < spy.peak <= S3_PARALLEL
    assert s3_store.reader(KEY).read() == b"".join(parts) + b"tail"
    assert uploads(s3_store) == []


def test_s3_failed_part_fails_the_commit_and_abort_cleans_up(s3_store: S3Store) -> None:
    class Failing(_CountingS3):
        def upload_part(self, **kwargs: Any) -> Any:
            if kwargs["PartNumber"] == 2:
                raise OSError("connection reset")
            return super().upload_part(**kwargs)

    w = S3Store(Failing(s3_store.s3), s3_store.bucket).writer(KEY)
    for i in range(3):
        w.write(bytes([i]) * S3_PART)
    with pytest.raises(OSError, match="connection reset"):
        w.commit()
    w.abort()
    assert not s3_store.exists(KEY) and uploads(s3_store) == []


@pytest.mark.parametrize("size", [0, 1, S3_PART - 1, S3_PART, 2 * S3_PART + 7])
def test_s3_stream_reads_ranges_in_order(s3_store: S3Store, size: int) -> None:
    data = os.urandom(size)
    s3_store.s3.put_object(Bucket=s3_store.bucket, Key=KEY, Body=data)
    with s3_store.stream(KEY) as src:
        got = [bytes(src.read(n)) for n in (9, 1 << 20, 3, S3_PART, 5 << 20, 1 << 30)]
    assert b"".join(got) == data
    with pytest.raises(NotFound):
        s3_store.stream("tenant-1/missing.byok")


def test_file_stream_reads_ahead_the_same_bytes(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = os.urandom(READ_BLOCK * 2 + 11)
    w = store.writer(KEY)
    w.write(data)
    w.commit()
    with store.stream(KEY) as src:
        assert b"".join(bytes(src.read(n)) for n in [7, READ_BLOCK, READ_BLOCK, 100, 5]) == data
        assert src.read(1) == b""
    with store.stream(KEY) as src:  # closing mid-way stops the read-ahead thread
        assert bytes(src.read(3)) == data[:3]
    with pytest.raises(NotFound):
        store.stream("tenant-1/missing.byok")


async def test_backup_and_restore_through_workflows_with_the_s3_vault(
        temporal_env: Any, localaws: Any, tmp_path: Path) -> None:
    from byok.aws import AwsClients
    from byok.db import make_engine, migrate
    from control.service import ensure_service_resources

    settings = load_settings(home=tmp_path / "home", aws_endpoint_url=localaws.url,
                             task_queue=f"q-s3-{tmp_path.name[-8:]}", vault_backend="s3")
    engine: Engine = make_engine(settings.db_url)
    migrate(engine)
    localaws.reset()
    aws = AwsClients(settings)
    ensure_service_resources(aws, settings)
    store = vault_store(settings, aws)
    assert isinstance(store, S3Store)
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT, regions=["us-east-1"])
        tenant = t.id
    data = os.urandom(2 * S3_PART + 12345)  # several parts and ranged GETs each way
    (tmp_path / "src").write_bytes(data)
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(temporal_env.client, settings, engine, aws, executor):
            made = await run_backup(engine, settings, lazy(temporal_env.client), tenant=tenant,
                                    workload="vmware_vm", source=f"file://{tmp_path / 'src'}",
                                    region=None, actor="test")
            out = tmp_path / "restored"
            await run_restore(engine, settings, lazy(temporal_env.client),
                              tenant=tenant,
                              backup_id=made["id"], target=str(out), force=False,
                              actor="test")
    assert made["status"] == "complete" and out.read_bytes() == data
    key = f"{tenant}/{made['id']}.byok"
    head = store.s3.head_object(Bucket=settings.vault_bucket, Key=key)
    assert head["ContentLength"] == made["stored_size"]
    assert not (settings.vault_dir).exists()  # nothing went to the file vault
    assert uploads(store) == []
    engine.dispose()


def test_s3_commit_whose_answer_was_lost_is_recognised_by_its_etag(s3_store: S3Store) -> None:
    """CompleteMultipartUpload succeeded, but its answer timed out and the retry found the
    upload gone: the object carries the ETag of our parts, so the commit stands."""
    class LostAnswer(_CountingS3):
        def complete_multipart_upload(self, **kwargs: Any) -> Any:
            self._s3.complete_multipart_upload(**kwargs)
            raise OSError("read timeout")

    w = S3Store(LostAnswer(s3_store.s3), s3_store.bucket).writer(KEY)
    w.write(bytes(S3_PART))
    w.write(b"tail")
    w.commit()
    assert s3_store.reader(KEY).read() == bytes(S3_PART) + b"tail"


def test_s3_commit_failure_with_someone_elses_object_is_raised(s3_store: S3Store) -> None:
    class Failing(_CountingS3):
        def complete_multipart_upload(self, **kwargs: Any) -> Any:
            raise OSError("read timeout")

    s3_store.s3.put_object(Bucket=s3_store.bucket, Key=KEY, Body=b"another attempt's object")
    w = S3Store(Failing(s3_store.s3), s3_store.bucket).writer(KEY)
    w.write(b"ours")
    with pytest.raises(OSError, match="read timeout"):
        w.commit()
    w.abort()
    w.abort()  # a second abort finds no upload: not an error
    assert uploads(s3_store) == []
