"""Vault storage: FileStore and S3Store (on localaws) commit atomically, and a full backup and
restore through the workflows with the S3 vault."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from activities.storage import S3_PART, FileStore, S3Store
from byok import crud
from byok.db import session_scope
from byok.errors import NotFound
from byok.settings import Settings, load_settings
from control.backups import start_backup
from control.restores import start_restore
from tests.conftest import TENANT_ACCOUNT
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
    assert len(crashed.parts) == 1
    assert not s3_store.exists(KEY)
    assert uploads(s3_store) == [crashed.upload_id]  # invisible, never completed
    retry = s3_store.writer(KEY)
    retry.write(b"complete backup")
    retry.commit()
    assert s3_store.reader(KEY).read() == b"complete backup"
    assert uploads(s3_store) == []  # the retry aborted the crashed attempt's upload


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
        crud.connect_account(session, tenant=t, account_id=TENANT_ACCOUNT, regions=["us-east-1"])
        tenant = t.id
    data = bytes(range(256)) * 9000  # > 2 MiB: several envelope frames
    (tmp_path / "src").write_bytes(data)
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(temporal_env.client, settings, engine, aws, executor):
            made = await start_backup(engine, settings, lazy(temporal_env.client), wait=True,
                                      tenant=tenant, workload="vmware_vm",
                                      source=f"file://{tmp_path / 'src'}", region=None,
                                      actor="test")
            out = tmp_path / "restored"
            await start_restore(engine, settings, lazy(temporal_env.client),
                                wait=True, tenant=tenant,
                                backup_id=made["id"], target=str(out), force=False,
                                actor="test")
    assert made["status"] == "complete" and out.read_bytes() == data
    key = f"{tenant}/{made['id']}.byok"
    head = store.s3.head_object(Bucket=settings.vault_bucket, Key=key)
    assert head["ContentLength"] == made["stored_size"]
    assert not (settings.vault_dir).exists()  # nothing went to the file vault
    assert uploads(store) == []
    engine.dispose()
