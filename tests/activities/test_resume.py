"""A retried backup or restore resumes from the checkpoint its last attempt heartbeated: the
partial object is taken over, the source (or vault) is read from the checkpoint on, the data
key and the envelope are those of one uninterrupted run, and one object is left."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import ActivityEnvironment

import activities.vault as vault_module
from activities.pipeline import BlockReader
from activities.storage import FileStore, SourceChanged
from activities.vault import VaultActivities
from byok import backups, crud
from byok.aws import AwsClients
from byok.db import session_scope
from byok.envelope import Encryptor, make_context, read_header
from byok.envelope.provider import DataKeyMaterial
from byok.messages import BackupInput, BackupPlan, RestoreInput, RestorePlan
from byok.settings import Settings
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from worker import key_cache

REGION = "us-east-1"
MIB = 1 << 20
DATA = b"".join(bytes([i]) * 7 + bytes(range(256)) * 4095 + b"x" * 249 for i in range(12))



@pytest.fixture
def tenant(engine: Engine) -> str:
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT, regions=[REGION])
        return t.id


class Dies(RuntimeError):
    pass


def env_with(beats: list[tuple[Any, ...]], last: ActivityEnvironment | None = None
             ) -> ActivityEnvironment:
    """An activity context; a retry carries the last attempt's last heartbeat, as Temporal's."""
    env = ActivityEnvironment()
    if last is not None:
        env.info = dataclasses.replace(env.info, attempt=2, heartbeat_details=list(beats[-1]))
    beats.clear()
    env.on_heartbeat = lambda *details: beats.append(details)
    return env


REAL_SOURCE = vault_module.open_source


def counted_source(read: list[int], die_after: int | None) -> Any:
    real = REAL_SOURCE

    def source(*args: Any) -> Iterator[bytes]:
        for chunk in real(*args):
            read.append(len(chunk))
            if die_after is not None and sum(read) > die_after:
                raise Dies("the source connection dropped")
            yield chunk
    return source


def upload(settings: Settings, tenant: str, data: bytes) -> Path:
    """The tenant's upload: the only place the worker reads a file source from."""
    src = backups.uploads_dir(settings, tenant) / "src"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    return src


def plan_backup(engine: Engine, settings: Settings, tenant: str, src: Path) -> BackupPlan:
    with session_scope(engine) as session:
        return backups.plan_backup(session, settings, BackupInput(
            tenant, backups.new_id("bk"), "m365", f"file://{src}", REGION, "test"))


def test_a_retried_backup_resumes_from_its_checkpoint(
        counting: AwsClients, engine: Engine, settings: Settings, tenant: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings.model_copy(update={"transfer_checkpoint_seconds": 0})
    src = upload(settings, tenant, DATA)
    plan = plan_backup(engine, settings, tenant, src)
    acts = VaultActivities(counting, engine, settings, FileStore(settings.vault_dir),
                           key_cache(settings))
    beats: list[tuple[Any, ...]] = []
    read: list[int] = []
    first = env_with(beats)
    monkeypatch.setattr(vault_module, "open_source", counted_source(read, 7 * MIB))
    with pytest.raises(Dies):
        first.run(acts.write_backup, plan)
    # The server may hold an older checkpoint than the last one sent: resume from the first,
    # so the frames written after it are sealed again (and compared with what is there).
    beats[:] = [next(b for b in beats if b[1])]
    checkpoint = beats[-1][1]
    assert checkpoint["frames"] >= 1, beats  # whole frames were durable before it failed
    folder = settings.vault_dir / tenant
    [partial] = folder.iterdir()
    assert partial.name == checkpoint["partial"] and partial.stat().st_size > checkpoint["stored"]

    # A new worker: nothing cached, so the resumed attempt must take the key from the header.
    acts = VaultActivities(counting, engine, settings, FileStore(settings.vault_dir),
                           key_cache(settings))
    generated = counting.requests["kms"]["GenerateDataKey"]
    read.clear()
    monkeypatch.setattr(vault_module, "open_source", counted_source(read, None))
    result = env_with(beats, first).run(acts.write_backup, plan)
    skipped = checkpoint["frames"] * settings.frame_size
    assert sum(read) == len(DATA) - skipped  # the source was read from the checkpoint on
    assert counting.requests["kms"]["GenerateDataKey"] == generated  # the same data key
    assert result.ok and result.plaintext_size == len(DATA)
    assert result.digest == blake3.blake3(DATA).hexdigest()  # over the whole file
    [stored] = folder.iterdir()  # exactly one object, no partial
    assert stored.name == plan.object_key.split("/")[-1]

    # Byte for byte the envelope one uninterrupted run with that message id writes.
    blob = stored.read_bytes()
    header = read_header(io.BytesIO(blob).read)
    context = make_context(tenant_id=tenant, backup_id=plan.backup_id, workload="m365",
                           region=REGION)
    key = acts.provider(tenant).unwrap(header.wrapped, header.key_arn, context)
    enc = Encryptor(DataKeyMaterial(key, header.wrapped, header.key_arn), context,
                    header.frame_size, message_id=header.message_id)
    assert b"".join(bytes(x) for x in enc.stream([DATA])) == blob
    assert result.stored_size == len(blob)

    # ...and it restores.
    with session_scope(engine) as session:
        backups.finish_backup(session, result)
        out = backups.restores_dir(settings, tenant) / "out"
        rplan = backups.plan_restore(session, settings, RestoreInput(
            tenant, backups.new_id("rs"), plan.backup_id, str(out)))
    env_with(beats).run(acts.read_restore, rplan)
    assert out.read_bytes() == DATA


def test_a_source_changed_past_the_checkpoint_is_never_sealed_under_the_same_nonce(
        counting: AwsClients, engine: Engine, settings: Settings, tenant: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The frames after the checkpoint were sealed once already (key, nonce); other bytes
    there must not be sealed again under them: the attempt fails, drops the partial, and
    the retry starts a new envelope (new message id, so new keys)."""
    settings = settings.model_copy(update={"transfer_checkpoint_seconds": 0})
    src = upload(settings, tenant, DATA)
    plan = plan_backup(engine, settings, tenant, src)
    acts = VaultActivities(counting, engine, settings, FileStore(settings.vault_dir),
                           key_cache(settings))
    beats: list[tuple[Any, ...]] = []
    first = env_with(beats)
    monkeypatch.setattr(vault_module, "open_source", counted_source([], 7 * MIB))
    with pytest.raises(Dies):
        first.run(acts.write_backup, plan)
    beats[:] = [next(b for b in beats if b[1])]
    frames = beats[-1][1]["frames"]
    [partial] = (settings.vault_dir / tenant).iterdir()
    old_header = read_header(io.BytesIO(partial.read_bytes()).read)
    changed = bytearray(DATA)
    changed[frames * settings.frame_size + 10] ^= 1  # in the frame sealed after the checkpoint
    src.write_bytes(changed)
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    with pytest.raises(SourceChanged):
        env_with(list(beats), first).run(acts.write_backup, plan)
    assert not list((settings.vault_dir / tenant).iterdir())  # the partial is gone
    result = env_with(beats, first).run(acts.write_backup, plan)  # same details: starts over
    assert result.ok and result.digest == blake3.blake3(bytes(changed)).hexdigest()
    [stored] = (settings.vault_dir / tenant).iterdir()
    assert read_header(io.BytesIO(stored.read_bytes()).read).message_id != old_header.message_id


def test_a_checkpoint_naming_a_foreign_file_is_ignored(
        counting: AwsClients, engine: Engine, settings: Settings, tenant: str,
        tmp_path: Path) -> None:
    """Heartbeat details cross Temporal: a partial outside this object's names (a path, or
    another backup's partial) is never taken over; the backup starts from byte zero."""
    src = upload(settings, tenant, DATA)
    plan = plan_backup(engine, settings, tenant, src)
    folder = settings.vault_dir / tenant
    folder.mkdir(parents=True)
    other = folder / "bk-other.byok.0a0b.partial"
    other.write_bytes(b"not ours" * 1000)
    acts = VaultActivities(counting, engine, settings, FileStore(settings.vault_dir),
                           key_cache(settings))
    beats: list[tuple[Any, ...]] = []
    for partial in (other.name, "../../etc/passwd.partial", str(other)):
        beats.append((0, {"partial": partial, "frames": 2, "stored": 4000}))
        result = env_with(beats, ActivityEnvironment()).run(acts.write_backup, plan)
        assert result.ok and result.digest == blake3.blake3(DATA).hexdigest()
    assert other.read_bytes() == b"not ours" * 1000
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [other.name, plan.object_key.split("/")[-1]])


class _DroppingStore(FileStore):
    """The real vault, whose sequential read drops after `drop_after` bytes (once)."""

    def __init__(self, root: Path, drop_after: int | None):
        super().__init__(root)
        self.drop_after, self.starts = drop_after, list[int]()

    def stream(self, key: str, start: int = 0, head: bytes = b"") -> BlockReader:
        self.starts.append(start)
        inner = super().stream(key, start, head)
        if self.drop_after is None:
            return inner
        limit, got = self.drop_after, [0]

        def blocks() -> Iterator[bytes]:
            while block := inner.read(MIB):
                got[0] += len(block)
                if got[0] > limit:
                    raise Dies("the vault connection dropped")
                yield bytes(block)
        return BlockReader(blocks(), on_close=inner.close)


def test_a_retried_restore_resumes_into_its_partial_file(
        counting: AwsClients, engine: Engine, settings: Settings, tenant: str, tmp_path: Path,
        ) -> None:
    settings = settings.model_copy(update={"transfer_checkpoint_seconds": 0})
    src = upload(settings, tenant, DATA)
    plan = plan_backup(engine, settings, tenant, src)
    acts = VaultActivities(counting, engine, settings, FileStore(settings.vault_dir),
                           key_cache(settings))
    beats: list[tuple[Any, ...]] = []
    result = env_with(beats).run(acts.write_backup, plan)
    target = backups.restores_dir(settings, tenant) / "restored"
    folder = target.parent
    with session_scope(engine) as session:
        backups.finish_backup(session, result)
        rplan: RestorePlan = backups.plan_restore(session, settings, RestoreInput(
            tenant, backups.new_id("rs"), plan.backup_id, str(target)))
    dropping = _DroppingStore(settings.vault_dir, 6 * MIB)
    first = env_with(beats)
    with pytest.raises(Dies):
        first.run(VaultActivities(counting, engine, settings, dropping,
                                  key_cache(settings)).read_restore, rplan)
    checkpoint = beats[-1][1]
    assert checkpoint["frames"] >= 1 and not target.exists()
    [partial] = [p for p in folder.iterdir() if p.name.endswith(".partial")]
    assert partial.name == checkpoint["partial"]

    healthy = _DroppingStore(settings.vault_dir, None)
    out = env_with(beats, first).run(VaultActivities(
        counting, engine, settings, healthy, key_cache(settings)).read_restore, rplan)
    assert out.ok and target.read_bytes() == DATA
    frame = settings.frame_size + 25
    assert healthy.starts == [len(read_header(io.BytesIO((
        settings.vault_dir / plan.object_key).read_bytes()).read).to_bytes())
        + checkpoint["frames"] * frame]  # the vault was read from the checkpoint on
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]
