"""Resumable transfers into the S3 vault (strict localaws): a retried backup takes over the
multipart upload its checkpoint names, after checking it with ListParts, and uploads only
the parts after it; a checkpoint naming someone else's upload is refused; restores from the
S3 vault resume into their partial file as they do from the file vault."""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from typing import Any

import blake3
import pytest
from sqlalchemy.engine import Engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

import activities.s3writer as s3writer
import activities.vault as vault_module
from activities.pipeline import BlockReader
from activities.resume import SourceChanged
from activities.storage import S3Store
from activities.vault import VaultActivities
from byok import backups
from byok.aws import AwsClients
from byok.db import session_scope
from byok.envelope import Encryptor, make_context, read_header
from byok.envelope.provider import DataKeyMaterial
from byok.messages import RestoreInput, RestorePlan
from byok.settings import Settings
from tests.activities.test_resume import (
    MIB,
    REGION,
    Dies,
    counted_source,
    env_with,
    plan_backup,
    tenant,
    upload,
)
from tests.workflows.test_permissions import _service_policy_without
from worker import key_cache

__all__ = ["tenant"]  # a fixture shared with the file-vault resume tests

DATA = os.urandom(40 * MIB + 12345)  # eight parts of 5 MiB and a short one


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3writer, "S3_PART", 5 * MIB)  # S3's smallest part but the last


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"transfer_checkpoint_seconds": 0})


def store(aws: AwsClients, settings: Settings) -> S3Store:
    return S3Store(aws.service("s3"), settings.vault_bucket)


def uploads(s3: S3Store) -> list[tuple[str, str]]:
    listed = s3.s3.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
    return [(u["Key"], u["UploadId"]) for u in listed]


def objects(s3: S3Store) -> list[str]:
    return [o["Key"] for o in s3.s3.list_objects_v2(Bucket=s3.bucket).get("Contents", [])]


def expected_envelope(acts: VaultActivities, tenant: str, backup_id: str, blob: bytes,
                      data: bytes) -> bytes:
    """What one uninterrupted run with the stored message id writes."""
    header = read_header(io.BytesIO(blob).read)
    context = make_context(tenant_id=tenant, backup_id=backup_id, workload="m365",
                           region=REGION)
    key = acts.provider(tenant).unwrap(header.wrapped, header.key_arn, context)
    enc = Encryptor(DataKeyMaterial(key, header.wrapped, header.key_arn), context,
                    header.frame_size, message_id=header.message_id)
    return b"".join(bytes(x) for x in enc.stream([data]))


def killed_backup(counting: AwsClients, engine: Engine, settings: Settings, tenant: str,
                  monkeypatch: pytest.MonkeyPatch, plan: Any = None, die_after: int = 12 * MIB,
                  retry_of: Any = None, beats: list[tuple[Any, ...]] | None = None
                  ) -> tuple[Any, list[tuple[Any, ...]], Any, list[int]]:
    """A backup whose source dies after `die_after` bytes (a retry of `retry_of`, given
    its last attempt's `beats`): (plan, heartbeats, its environment, bytes read)."""
    src = upload(settings, tenant, DATA)
    plan = plan or plan_backup(engine, settings, tenant, src)
    acts = VaultActivities(counting, engine, settings, store(counting, settings),
                           key_cache(settings))
    beats = [] if beats is None else beats
    read: list[int] = []
    first = env_with(beats, retry_of)
    dying = counted_source(read, die_after)

    def slow(*args: Any) -> Iterator[bytes]:  # a long transfer: parts return while it reads
        for chunk in dying(*args):
            time.sleep(0.05)
            yield chunk
    monkeypatch.setattr(vault_module, "open_source", slow)
    with pytest.raises(Dies):
        first.run(acts.write_backup, plan)
    beats[:] = [through_temporal(b) for b in beats]
    return plan, beats, first, read


def through_temporal(details: tuple[Any, ...]) -> tuple[Any, ...]:
    """Heartbeat details as the retry gets them: through the worker's payload converter."""
    converter = pydantic_data_converter.payload_converter
    return tuple(converter.from_payloads(converter.to_payloads(list(details))))


def test_a_retried_s3_backup_takes_over_its_multipart_upload(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = store(counting, fast)
    plan, beats, first, read = killed_backup(counting, engine, fast, tenant, monkeypatch)
    # Resume from the first checkpoint the server may hold, not necessarily the last.
    beats[:] = [next(b for b in beats if b[1])]
    checkpoint = beats[-1][1]
    assert checkpoint["frames"] >= 1 and checkpoint["upload"] and checkpoint["parts"]
    # What a checkpoint holds: names, counts, the upload's ETags and the envelope header
    # (whose data key is KMS-wrapped, as in the object): no key material.
    assert set(checkpoint) == {"partial", "frames", "stored", "upload", "parts", "header"}
    [(key, upload_id)] = uploads(s3)
    assert (key, upload_id) == (plan.object_key, checkpoint["upload"])
    assert not objects(s3)
    listed = s3.s3.list_parts(Bucket=s3.bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in listed] == list(range(1, len(listed) + 1))
    kept = sum(p["Size"] for p in listed)

    uploaded: list[int] = []
    real_upload = s3writer.S3Writer._upload

    def counted_upload(self: s3writer.S3Writer, number: int, body: bytes) -> Any:
        uploaded.append(len(body))
        return real_upload(self, number, body)
    monkeypatch.setattr(s3writer.S3Writer, "_upload", counted_upload)
    first_read = sum(read)
    read.clear()
    monkeypatch.setattr(vault_module, "open_source", counted_source(read, None))
    acts = VaultActivities(counting, engine, fast, s3, key_cache(fast))  # a new worker
    generated = counting.requests["kms"]["GenerateDataKey"]
    result = env_with(beats, first).run(acts.write_backup, plan)
    assert counting.requests["kms"]["GenerateDataKey"] == generated  # the same data key
    assert result.ok and result.digest == blake3.blake3(DATA).hexdigest()
    assert result.resumed_bytes == checkpoint["frames"] * fast.frame_size
    assert first_read + sum(read) < 1.5 * len(DATA)  # (the source prefix is read again)
    # The checkpoint's parts and those uploaded after it (all checked) were not sent again.
    assert kept >= sum(size for _, _, size in checkpoint["parts"])
    assert sum(uploaded) == result.stored_size - kept
    assert objects(s3) == [plan.object_key] and uploads(s3) == []  # one object, no upload
    blob = s3.reader(plan.object_key).read()
    assert blob == expected_envelope(acts, tenant, plan.backup_id, blob, DATA)
    assert result.stored_size == len(blob)

    with session_scope(engine) as session:
        backups.finish_backup(session, result)
        out = backups.restores_dir(fast, tenant) / "out"
        rplan = backups.plan_restore(session, fast, RestoreInput(
            tenant, backups.new_id("rs"), plan.backup_id, str(out)))
    env_with(beats).run(acts.read_restore, rplan)
    assert out.read_bytes() == DATA


def test_localaws_lists_parts_of_an_upload_only_under_its_own_key(
        counting: AwsClients, fast: Settings) -> None:
    """As S3: an upload id is bound to its key; ListParts under another key is refused."""
    s3 = store(counting, fast)
    upload_id = s3.s3.create_multipart_upload(Bucket=s3.bucket, Key="t/a.byok")["UploadId"]
    with pytest.raises(s3.s3.exceptions.NoSuchUpload):
        s3.s3.list_parts(Bucket=s3.bucket, Key="t/b.byok", UploadId=upload_id)
    s3.s3.abort_multipart_upload(Bucket=s3.bucket, Key="t/a.byok", UploadId=upload_id)


def test_a_checkpoint_naming_another_objects_upload_starts_over(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = store(counting, fast)
    _, beats, _, _ = killed_backup(counting, engine, fast, tenant, monkeypatch)
    forged = dict(next(b for b in beats if b[1])[1])
    [(other_key, other_upload)] = uploads(s3)
    other_parts = s3.s3.list_parts(Bucket=s3.bucket, Key=other_key, UploadId=other_upload)

    src = upload(fast, tenant, DATA[:12 * MIB])
    plan = plan_backup(engine, fast, tenant, src)
    forged["partial"] = f"{plan.object_key.split('/')[-1]}.multipart.partial"  # our name
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    acts = VaultActivities(counting, engine, fast, s3, key_cache(fast))
    result = env_with([(0, forged)], env_with([])).run(acts.write_backup, plan)
    assert result.ok and result.resumed_bytes == 0  # started over
    assert result.digest == blake3.blake3(DATA[:12 * MIB]).hexdigest()
    # The other object's upload is untouched; ours is committed, nothing of ours is left.
    assert uploads(s3) == [(other_key, other_upload)]
    assert s3.s3.list_parts(Bucket=s3.bucket, Key=other_key,
                            UploadId=other_upload)["Parts"] == other_parts["Parts"]
    assert objects(s3) == [plan.object_key]
    header = read_header(s3.reader(plan.object_key).read)
    forged_header = read_header(io.BytesIO(base64.b64decode(forged["header"])).read)
    assert header.message_id != forged_header.message_id  # a new envelope, not the forged


def test_a_damaged_or_aborted_upload_starts_over_and_is_aborted(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = store(counting, fast)
    plan, beats, first, _ = killed_backup(counting, engine, fast, tenant, monkeypatch)
    cp = dict(next(b for b in beats if b[1])[1])
    damaged = dict(cp, parts=[[n, '"' + "0" * 32 + '"', size] for n, _, size in cp["parts"]])
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    acts = VaultActivities(counting, engine, fast, s3, key_cache(fast))
    result = env_with([(0, damaged)], first).run(acts.write_backup, plan)
    assert result.ok and result.resumed_bytes == 0
    assert result.digest == blake3.blake3(DATA).hexdigest()
    assert uploads(s3) == [] and objects(s3) == [plan.object_key]  # the stale one aborted

    # A header that does not open (not this backup's envelope): the upload is dropped.
    s3.delete(plan.object_key)
    _, beats, first, _ = killed_backup(counting, engine, fast, tenant, monkeypatch, plan)
    cp = dict(next(b for b in beats if b[1])[1])
    foreign = dict(cp, header=base64.b64encode(b"BYOK" + bytes(200)).decode())
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    result = env_with([(0, foreign)], first).run(acts.write_backup, plan)
    assert result.ok and result.resumed_bytes == 0
    assert result.digest == blake3.blake3(DATA).hexdigest()
    assert uploads(s3) == [] and objects(s3) == [plan.object_key]

    # An aborted upload (gone): the checkpoint is not resumed either.
    s3.delete(plan.object_key)
    result = env_with([(0, cp)], first).run(acts.write_backup, plan)
    assert result.ok and result.resumed_bytes == 0
    assert uploads(s3) == [] and objects(s3) == [plan.object_key]


def test_a_source_changed_before_the_kept_parts_fails_and_drops_the_upload(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept parts are sealed again under the same key and nonces: other bytes there
    are refused (the upload is aborted), so the retry starts a new envelope."""
    s3 = store(counting, fast)
    plan, beats, first, _ = killed_backup(counting, engine, fast, tenant, monkeypatch)
    beats[:] = [next(b for b in beats if b[1])]
    changed = bytearray(DATA)
    changed[100] ^= 1
    upload(fast, tenant, bytes(changed))
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    acts = VaultActivities(counting, engine, fast, s3, key_cache(fast))
    with pytest.raises(SourceChanged):
        env_with(list(beats), first).run(acts.write_backup, plan)
    assert uploads(s3) == [] and objects(s3) == []
    result = env_with(beats, first).run(acts.write_backup, plan)  # same details: starts over
    assert result.ok and result.resumed_bytes == 0
    assert result.digest == blake3.blake3(bytes(changed)).hexdigest()


class _DroppingS3(S3Store):
    """The real S3 vault, whose ranged read drops after `drop_after` bytes."""

    def __init__(self, s3: Any, bucket: str, drop_after: int | None):
        super().__init__(s3, bucket)
        self.drop_after, self.starts = drop_after, list[int]()

    def stream(self, key: str, start: int = 0, head: bytes = b"") -> BlockReader:
        self.starts.append(start)
        inner = super().stream(key, start, head)
        limit = self.drop_after
        if limit is None:
            return inner

        def blocks() -> Iterator[bytes]:
            got = 0
            while block := inner.read(MIB):
                got += len(block)
                if got > limit:
                    raise Dies("the vault connection dropped")
                yield bytes(block)
        return BlockReader(blocks(), on_close=inner.close)


def test_a_retried_restore_from_s3_resumes_into_its_partial_file(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str) -> None:
    data = DATA[:20 * MIB]
    plan = plan_backup(engine, fast, tenant, upload(fast, tenant, data))
    s3 = store(counting, fast)
    beats: list[tuple[Any, ...]] = []
    result = env_with(beats).run(VaultActivities(
        counting, engine, fast, s3, key_cache(fast)).write_backup, plan)
    target = backups.restores_dir(fast, tenant) / "restored"
    with session_scope(engine) as session:
        backups.finish_backup(session, result)
        rplan: RestorePlan = backups.plan_restore(session, fast, RestoreInput(
            tenant, backups.new_id("rs"), plan.backup_id, str(target)))
    first = env_with(beats)
    with pytest.raises(Dies):
        first.run(VaultActivities(counting, engine, fast, _DroppingS3(
            s3.s3, s3.bucket, 8 * MIB), key_cache(fast)).read_restore, rplan)
    checkpoint = beats[-1][1]
    assert checkpoint["frames"] >= 1 and not target.exists()
    [partial] = [p for p in target.parent.iterdir() if p.name.endswith(".partial")]
    assert partial.name == checkpoint["partial"]

    healthy = _DroppingS3(s3.s3, s3.bucket, None)
    out = env_with(beats, first).run(VaultActivities(
        counting, engine, fast, healthy, key_cache(fast)).read_restore, rplan)
    assert out.ok and target.read_bytes() == data
    assert out.resumed_bytes == checkpoint["frames"] * fast.frame_size
    head = read_header(s3.reader(plan.object_key).read).to_bytes()
    assert healthy.starts == [len(head) + checkpoint["frames"] * (fast.frame_size + 25)]
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".partial")]


def test_taking_over_an_upload_needs_list_multipart_upload_parts(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """service.yaml grants the service role s3:ListMultipartUploadParts for this alone."""
    s3 = store(counting, fast)
    plan, beats, first, _ = killed_backup(counting, engine, fast, tenant, monkeypatch)
    beats[:] = [next(b for b in beats if b[1])]
    _service_policy_without(counting, fast, "ReadWriteVault", "s3:ListMultipartUploadParts")
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    acts = VaultActivities(counting, engine, fast, s3, key_cache(fast))
    with pytest.raises(ApplicationError, match=r"AccessDenied.*ListParts"):
        env_with(list(beats), first).run(acts.write_backup, plan)


class _Slow:
    """The real S3 client, whose multipart create and part uploads each take `delay` s."""

    def __init__(self, inner: Any, delay: float):
        self.inner, self.delay, self.calls = inner, delay, list[tuple[str, float, float]]()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name not in ("create_multipart_upload", "upload_part"):
            return found

        def slow(**kwargs: Any) -> Any:
            start = time.monotonic()
            time.sleep(self.delay)
            out = found(**kwargs)
            self.calls.append((name, start, time.monotonic()))
            return out
        return slow


@pytest.mark.parametrize("size", [3 * MIB, 12 * MIB])  # one part (inline) or a pipeline
def test_a_slow_multipart_create_and_part_upload_heartbeat(
        counting: AwsClients, engine: Engine, settings: Settings, tenant: str, size: int
        ) -> None:
    settings = settings.model_copy(update={"transfer_checkpoint_seconds": 0.2})
    plan = plan_backup(engine, settings, tenant, upload(settings, tenant, DATA[:size]))
    real = store(counting, settings)
    slow = _Slow(real.s3, 1.2)
    acts = VaultActivities(counting, engine, settings, S3Store(slow, real.bucket),
                           key_cache(settings))
    beats: list[tuple[Any, ...]] = []
    env = env_with(beats)
    times: list[float] = []
    env.on_heartbeat = lambda *details: times.append(time.monotonic())
    assert env.run(acts.write_backup, plan).ok
    for name in ("create_multipart_upload", "upload_part"):
        [(_, start, end), *_] = [c for c in slow.calls if c[0] == name]
        assert sum(start < t < end for t in times) >= 3, name  # beats while it ran


def test_an_s3_resume_killed_again_before_its_replay_passed_the_kept_parts_resumes_again(
        counting: AwsClients, engine: Engine, fast: Settings, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = store(counting, fast)
    plan, beats, first, _ = killed_backup(counting, engine, fast, tenant, monkeypatch)
    beats[:] = [beats[-1]]
    kept = beats[-1][1]["parts"]
    _, beats, second, _ = killed_backup(counting, engine, fast, tenant, monkeypatch, plan,
                                        die_after=2 * MIB, retry_of=first, beats=beats)
    [(_, upload_id)] = uploads(s3)  # the same upload, taken over twice
    assert beats[-1][1]["upload"] == upload_id
    assert [list(p) for p in beats[-1][1]["parts"]][:len(kept)] == [list(p) for p in kept]
    monkeypatch.setattr(vault_module, "open_source", counted_source([], None))
    acts = VaultActivities(counting, engine, fast, s3, key_cache(fast))
    result = env_with(beats, second).run(acts.write_backup, plan)
    assert result.ok and result.resumed_bytes > 0
    assert result.digest == blake3.blake3(DATA).hexdigest()
    assert objects(s3) == [plan.object_key] and uploads(s3) == []
