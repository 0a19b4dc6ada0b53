"""VaultActivities: stream source -> envelope -> vault for a backup, and back for a restore.
Backup data never enters a Temporal payload; progress goes out as heartbeats."""

from __future__ import annotations

import fnmatch
import glob
import itertools
import os
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from activities.keyprovider import KmsKeyProvider
from activities.pipeline import Inline, Stage, read_ahead
from activities.sources import open_source
from activities.storage import VaultStore
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
from byok.envelope.digest import SHA256
from byok.errors import Conflict
from byok.keycache import CachingKeyProvider, KeyCache
from byok.messages import BackupPlan, BackupResult, RestorePlan, RestoreResult
from byok.settings import Settings
from byok.sources import Source
from byok.workloads import check_source, parse_workload

# Heartbeat by time only: a per-chunk call costs a cross-thread hop each time, and the
# server needs one per heartbeat timeout at most (the SDK throttles what it sends anyway).
HEARTBEAT_SECONDS = 1.0
DEPTH = 4  # chunks queued between two stages: memory in flight is about DEPTH x chunk


class _Progress:
    def __init__(self) -> None:
        self.done = 0
        self.at = time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        self.beat()

    def beat(self) -> None:
        """Also called while a stage waits on a slow read or write, so a long step (one
        slow part upload) keeps the activity alive; a hung one still ends at its timeout."""
        now = time.monotonic()
        if now - self.at >= HEARTBEAT_SECONDS:
            activity.heartbeat(self.done)  # plaintext bytes so far: the CLI's progress bar
            self.at = now


SMALL_RESTORE = 4 << 20  # below this a restore runs on one thread


def stage(consume: Callable[[Any], object], inline: bool, name: str,
          progress: _Progress) -> Stage[Any] | Inline:
    return Inline(consume) if inline else Stage(consume, DEPTH, name, progress.beat)


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
        chunks = open_source(checked, self.source_client(plan),
                             lambda src: open_tenant_file(self.settings, plan.tenant_id, src))
        materials = self.provider(plan.tenant_id).materials_for_backup(
            plan.tenant_id, plan.region, key_arn, plan.backup_id, context)
        try:
            enc = Encryptor(materials, context, self.settings.frame_size, digest=None)
        finally:
            materials.wipe()
        # A retry after a crash starts over: the writer replaces any partial object.
        # Pipeline: the source is read ahead on one thread, hashed on another, encrypted
        # here, and written on a fourth; each stage works on a chunk while the next waits.
        # A source of one chunk (most backups are small) goes without threads: starting
        # three of them would cost more than they save.
        first, second = next(chunks, None), next(chunks, None)
        small = second is None
        head = [c for c in (first, second) if c is not None]
        writer = self.store.writer(plan.object_key)
        hasher = new_hasher(self.digest_alg)
        progress = _Progress()
        hashing = stage(hasher.update, small, "backup-hash", progress)
        writing = stage(writer.write, small, "backup-write", progress)
        source = iter(head) if small else read_ahead(itertools.chain(head, chunks), DEPTH,
                                                       "backup-read", progress.beat)
        try:
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
            writer.abort()
            raise
        r = enc.result
        digest = hasher.hexdigest()
        return BackupResult(plan.tenant_id, plan.backup_id, True, r.key_arn, r.plaintext_size,
                            r.stored_size, digest if self.digest_alg == SHA256 else "",
                            digest=digest, digest_alg=self.digest_alg)

    @activity.defn
    @byok_errors
    def read_restore(self, plan: RestorePlan) -> RestoreResult:
        spot = self.checked_restore(plan)
        try:
            spot.check_writable(plan.force)
        except BaseException:
            spot.close()
            raise
        context = make_context(tenant_id=plan.tenant_id, backup_id=plan.backup_id,
                               workload=plan.workload, region=plan.region)
        # A fresh name per attempt (opened exclusively): an earlier attempt that is still
        # running somewhere must never write into the file this one renames into place.
        tmp = f".{spot.name}.{plan.restore_id}.{secrets.token_hex(4)}.partial"
        pattern = f".{glob.escape(spot.name)}.{plan.restore_id}.*.partial"
        for stale in fnmatch.filter(spot.names(), pattern):
            spot.unlink(stale)  # left by a crashed attempt of this restore
        provider = _RecordedKeyOnly(self.provider(plan.tenant_id), plan.key_arn)
        hasher = new_hasher(plan.digest_alg)  # the backup's own algorithm (old: SHA-256)
        expected = plan.digest or plan.sha256
        small = plan.plaintext_size < SMALL_RESTORE
        try:
            with (self.store.reader(plan.object_key) if small
                  else self.store.stream(plan.object_key)) as src, spot.create(tmp) as out:
                # Read ahead (in the store), decrypt here, hash and write on their own
                # threads; plaintext frames are immutable, so both stages share them.
                dec = Decryptor(src.read, provider, context)
                progress = _Progress()
                hashing = stage(hasher.update, small, "restore-hash", progress)
                writing = stage(out.write, small, "restore-write", progress)
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
        finally:
            spot.unlink(tmp)
            spot.close()
        return RestoreResult(plan.tenant_id, plan.restore_id, True, dec.result.plaintext_size)
