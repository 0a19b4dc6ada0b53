"""VaultActivities: stream source -> envelope -> vault for a backup, and back for a restore.
Backup data never enters a Temporal payload; progress goes out as heartbeats."""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import itertools
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import IO, Any

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from activities.keyprovider import KmsKeyProvider
from activities.pipeline import Inline, Stage, read_ahead
from activities.resume import Checkpoint, Progress, Syncer, mapped
from activities.sources import open_source
from activities.storage import VaultStore, Writer
from byok import backups, connections
from byok.aws import AwsClients
from byok.backups import open_tenant_file
from byok.confine import Spot
from byok.db import session_scope
from byok.default_key import ensure_default_key
from byok.envelope import (
    DEFAULT_DIGEST,
    DataKeyMaterial,
    Decryptor,
    Encryptor,
    KeyUnavailable,
    make_context,
    new_hasher,
)
from byok.envelope.digest import SHA256, Hasher
from byok.envelope.format import FRAME_OVERHEAD, parse_header
from byok.envelope.resume import resume_encryptor
from byok.errors import ByokError, Conflict
from byok.keycache import CachingKeyProvider, KeyCache
from byok.messages import BackupPlan, BackupResult, RestorePlan, RestoreResult
from byok.settings import Settings
from byok.sources import Source
from byok.workloads import check_source, parse_workload

DEPTH = 4  # chunks queued between two stages: memory in flight is about DEPTH x chunk


SMALL_RESTORE = 4 << 20  # below this a restore runs on one thread


def stage(consume: Callable[[Any], object], inline: bool, name: str,
          progress: Progress) -> Stage[Any] | Inline:
    return Inline(consume) if inline else Stage(consume, DEPTH, name, progress.beat)


def _checkpoints(name: str, progress: Progress, header: int, step: int,
                 state: Callable[[], dict[str, Any]] = dict) -> Callable[[int], None]:
    """Checkpoint a partial file after its header at whole frames only (a backup's frames
    are `step` bytes after the header; a restore's plaintext has no header, frames of fs);
    `state` adds what the writer needs besides (the S3 vault's upload and parts)."""
    def durable(n: int) -> None:
        if n > header and (n - header) % step == 0:
            progress.durable(Checkpoint(name, (n - header) // step, n, **state()))
    return durable


def _retryable(exc: BaseException | None) -> bool:
    """Whether Temporal retries the attempt this error ends (so its partial is kept)."""
    return not (isinstance(exc, ByokError) and not exc.retryable)


class _RecordedKeyOnly:
    """Opens only envelopes whose header names the key the catalog recorded, so a rewritten
    key ARN is refused by name before any KMS call (the commitment would catch it later)."""

    def __init__(self, inner: CachingKeyProvider, key_arn: str):
        self.inner, self.key_arn = inner, key_arn

    def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
        raise KeyUnavailable("a restore never generates keys")

    def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
        if self.key_arn and key_arn != self.key_arn:
            raise KeyUnavailable(f"the stored backup names key {key_arn}, but the catalog "
                                 f"recorded {self.key_arn}: the object was altered",
                                 code="KEY_MISMATCH")
        return self.inner.unwrap(wrapped, key_arn, context)


class VaultActivities:
    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, store: VaultStore,
                 cache: KeyCache, *, digest_alg: str = DEFAULT_DIGEST):
        self.aws, self.engine, self.settings = aws, engine, settings
        self.digest_alg = digest_alg  # for new backups; a restore uses the backup's own
        self.store, self.cache = store, cache
        # region -> (default key ARN, when looked up): one DescribeKey per region and cache
        # age, not one per backup, which would undo the key cache's KMS frugality.
        self._default_keys: dict[str, tuple[str, float]] = {}

    def default_key(self, region: str) -> str:
        found = self._default_keys.get(region)
        if found is None or time.monotonic() - found[1] >= self.settings.keycache_max_age_seconds:
            found = (ensure_default_key(self.aws, self.settings, region), time.monotonic())
            self._default_keys[region] = found
        return found[0]

    def provider(self, tenant_id: str) -> CachingKeyProvider:
        """Per tenant: the cache is shared, but its keys always start with the tenant id."""
        return CachingKeyProvider(KmsKeyProvider(self.aws, self.engine, self.settings,
                                                 tenant_id), self.cache)

    def source_client(self, plan: BackupPlan) -> Callable[[str], Any]:
        """Clients in the tenant's account, through the role of its verified connection with
        its ExternalId, looked up here: the plan's account is checked, never trusted."""
        def client(name: str) -> Any:
            with session_scope(self.engine) as session:
                access = connections.source_access(session, self.settings,
                                                   tenant_id=plan.tenant_id, region=plan.region)
            if plan.source_account and plan.source_account != access.account_id:
                raise Conflict(f"the backup names account {plan.source_account}, but the "
                               f"tenant's verified connection in {plan.region} is account "
                               f"{access.account_id}", code="SOURCE_ACCOUNT_MISMATCH")
            return self.aws.connection(name, plan.region, access.role_arn, access.external_id)
        return client

    def checked_backup(self, plan: BackupPlan) -> Source:
        """Re-validated before anything is opened: the plan is the catalog's (tenant, key,
        account from the database), the source parses strictly and fits the workload."""
        with session_scope(self.engine) as session:
            backups.check_backup_plan(session, plan)
        return check_source(parse_workload(plan.workload), plan.source)

    def checked_restore(self, plan: RestorePlan) -> Spot:
        """The plan is the catalog's; the target is opened in the tenant's restores folder."""
        with session_scope(self.engine) as session:
            backups.check_restore_plan(session, plan)
        return backups.restore_spot(self.settings, plan.tenant_id, plan.target, create=True)

    @activity.defn
    @byok_errors
    def write_backup(self, plan: BackupPlan) -> BackupResult:
        checked = self.checked_backup(plan)
        key_arn = plan.key_arn or self.default_key(plan.region)
        context = make_context(tenant_id=plan.tenant_id, backup_id=plan.backup_id,
                               workload=plan.workload, region=plan.region)
        progress = Progress(self.settings.transfer_checkpoint_seconds)
        # A retry resumes from the partial object the last attempt checkpointed (same data
        # key: its wrapped form is in the partial's header; the digest re-hashed from it).
        checkpoint = Checkpoint.from_heartbeat(f"{PurePosixPath(plan.object_key).name}.")
        with progress.during("vault"):  # S3: ListParts, or a new multipart upload
            writer = self.store.writer(plan.object_key, checkpoint)
        writer.beat = progress.beat
        try:
            enc, frames, hasher = self._encryptor(plan, writer, checkpoint, key_arn, context,
                                                  progress)
            skip = frames * enc.frame_size
            progress.done = skip
            with progress.during("source"):
                chunks = open_source(
                    checked, self.source_client(plan),
                    lambda src: open_tenant_file(self.settings, plan.tenant_id, src), skip)
                # Pipeline: the source is read ahead on one thread, hashed on another,
                # encrypted here, and written on a fourth; each stage works on a chunk while
                # the next waits. A source of one chunk (most backups are small) goes
                # without threads: starting three of them would cost more than they save.
                first, second = next(chunks, None), next(chunks, None)
        except BaseException:
            writer.abort(keep=_retryable(sys.exc_info()[1]))
            raise
        small = second is None
        head = [c for c in (first, second) if c is not None]
        writer.interval = progress.interval
        writer.on_durable = _checkpoints(writer.checkpoint_name, progress, len(enc.header()),
                                         enc.frame_size + FRAME_OVERHEAD, writer.state)
        hashing = stage(hasher.update, small, "backup-hash", progress)
        writing = stage(writer.write, small, "backup-write", progress)
        source = iter(head) if small else read_ahead(itertools.chain(head, chunks), DEPTH,
                                                       "backup-read", progress.beat)
        try:
            if not frames:
                writing.put(enc.header())
            for chunk in source:
                hashing.put(chunk)
                out = enc.update(chunk)
                if out:
                    writing.put(out)
                progress.add(len(chunk))
                del out  # see Encryptor.stream: let the allocator reuse the block
            writing.put(enc.finalize())
            hashing.finish()
            writing.finish()
            writer.commit()
        except BaseException:
            getattr(source, "close", lambda: None)()
            hashing.abort()
            writing.abort()
            writer.abort(keep=_retryable(sys.exc_info()[1]))
            raise
        r = enc.result
        digest = hasher.hexdigest()
        if writer.replays and writer.resumed and checkpoint is not None:
            frames = checkpoint.frames  # sealed again, but not uploaded again
        return BackupResult(plan.tenant_id, plan.backup_id, True, r.key_arn, r.plaintext_size,
                            r.stored_size, digest if self.digest_alg == SHA256 else "",
                            digest=digest, digest_alg=self.digest_alg,
                            resumed_bytes=frames * enc.frame_size)

    def _encryptor(self, plan: BackupPlan, writer: Writer, checkpoint: Checkpoint | None,
                   key_arn: str, context: dict[str, str], progress: Progress
                   ) -> tuple[Encryptor, int, Hasher]:
        """Go on after the frames of the partial object taken over (same data key: its
        wrapped form is in the partial's header; the digest re-hashed from its frames), or
        start a new envelope: (encryptor, frames already stored, hasher)."""
        hasher = new_hasher(self.digest_alg)
        if writer.resumed and checkpoint is not None:
            # Under its new name at once: a crash from here on still resumes.
            progress.durable(Checkpoint(writer.checkpoint_name, checkpoint.frames,
                                        writer.resumed, **writer.state()))
            # A writer that replays holds only the header: the source is sealed again from
            # frame 0 and checked against what the writer holds (S3), not read back.
            kept = 0 if writer.replays else checkpoint.frames
            with progress.during("resume"):
                enc = resume_encryptor(writer.prefix(), kept, key_arn, context,
                                       self.provider(plan.tenant_id), hasher)
                if enc is None:
                    writer.restart()  # not ours, or damaged: start over
            if enc is not None:
                return enc, kept, hasher
            progress.checkpoint = None
            hasher = new_hasher(self.digest_alg)
        with progress.during("data key"):
            materials = self.provider(plan.tenant_id).materials_for_backup(
                plan.tenant_id, plan.region, key_arn, plan.backup_id, context)
        try:
            return (Encryptor(materials, context, self.settings.frame_size, digest=None), 0,
                    hasher)
        finally:
            materials.wipe()

    @activity.defn
    @byok_errors
    def read_restore(self, plan: RestorePlan) -> RestoreResult:
        with self.checked_restore(plan) as spot:
            spot.check_writable(plan.force)
            return self._restore_into(plan, spot)

    def _restore_into(self, plan: RestorePlan, spot: Spot) -> RestoreResult:
        context = make_context(tenant_id=plan.tenant_id, backup_id=plan.backup_id,
                               workload=plan.workload, region=plan.region)
        # A fresh name per attempt (opened exclusively): an earlier attempt that is still
        # running somewhere must never write into the file this one renames into place.
        # A retry takes over (renames) the partial file the last attempt checkpointed.
        base = f".{spot.name}.{plan.restore_id}."
        tmp = f"{base}{secrets.token_hex(4)}.partial"
        checkpoint = Checkpoint.from_heartbeat(base)
        taken = spot.take_over(checkpoint.partial, tmp, checkpoint.stored) if checkpoint else None
        for stale in fnmatch.filter(spot.names(), f"{glob.escape(base)}*.partial"):
            if stale != tmp:
                spot.unlink(stale)  # left by a crashed attempt of this restore
        provider = _RecordedKeyOnly(self.provider(plan.tenant_id), plan.key_arn)
        hasher = new_hasher(plan.digest_alg)  # the backup's own algorithm (old: SHA-256)
        expected = plan.digest or plan.sha256
        frames = self._resumed_frames(plan, taken, checkpoint, hasher)
        small = plan.plaintext_size < SMALL_RESTORE and not frames
        progress = Progress(self.settings.transfer_checkpoint_seconds)
        if frames and checkpoint is not None:  # under its new name at once
            progress.durable(Checkpoint(tmp, frames, checkpoint.stored))
        sync: Syncer | None = None
        try:
            with self._open_vault(plan, frames, small) as src, \
                    (taken or spot.create(tmp)) as out:
                # Read ahead (in the store), decrypt here, hash and write on their own
                # threads; plaintext frames are immutable, so both stages share them.
                dec = Decryptor(src.read, provider, context, frames_done=frames)
                fs = dec.header.frame_size
                progress.done = frames * fs
                sync = Syncer(out, _checkpoints(tmp, progress, 0, fs), progress.interval)
                hashing = stage(hasher.update, small, "restore-hash", progress)
                writing = stage(sync.write, small, "restore-write", progress)
                try:
                    for chunk in dec:
                        hashing.put(chunk)
                        writing.put(chunk)
                        progress.add(len(chunk))
                    hashing.finish()
                    writing.finish()
                except BaseException:
                    hashing.abort()
                    writing.abort()
                    raise
                out.flush()
                os.fsync(out.fileno())
            if hasher.hexdigest() != expected:
                raise Conflict(f"the restored bytes do not match the backup's "
                               f"{plan.digest_alg.upper()} digest",
                               code="RESTORE_DIGEST_MISMATCH")
            # Only a fully verified restore reaches the target, in one rename.
            spot.replace(tmp)
        except BaseException:
            if not (_retryable(sys.exc_info()[1])
                    and (frames or (sync is not None and sync.reported))):
                spot.unlink(tmp)  # kept only for a retry that resumes from it
            raise
        return RestoreResult(plan.tenant_id, plan.restore_id, True, dec.result.plaintext_size,
                             resumed_bytes=frames * dec.header.frame_size)

    def _resumed_frames(self, plan: RestorePlan, taken: IO[bytes] | None,
                        checkpoint: Checkpoint | None, hasher: Hasher) -> int:
        """Whole frames of plaintext the taken-over partial holds, hashed; 0: start over."""
        if taken is None or checkpoint is None:
            return 0
        with contextlib.closing(self.store.reader(plan.object_key)) as fh:
            fs = parse_header(fh.read).frame_size
        if checkpoint.stored != checkpoint.frames * fs or checkpoint.stored > plan.plaintext_size:
            taken.seek(0)
            taken.truncate()
            return 0
        with mapped(taken, checkpoint.stored) as m, memoryview(m) as view:
            hasher.update(view)
        return checkpoint.frames

    @contextlib.contextmanager
    def _open_vault(self, plan: RestorePlan, frames: int, small: bool) -> Iterator[Any]:
        """The stored envelope to decrypt: all of it, or its header then frame frames + 1."""
        key = plan.object_key
        if not frames:
            with self.store.reader(key) if small else self.store.stream(key) as src:
                yield src
            return
        with contextlib.closing(self.store.reader(key)) as fh:
            header = parse_header(fh.read)
        head = header.to_bytes()
        start = len(head) + frames * (header.frame_size + FRAME_OVERHEAD)
        with self.store.stream(key, start, head) as src:
            yield src
