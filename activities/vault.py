"""VaultActivities: stream source -> envelope -> vault for a backup, and back for a restore.
Backup data never enters a Temporal payload; progress goes out as heartbeats."""

from __future__ import annotations

import glob
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from activities.keyprovider import KmsKeyProvider
from activities.sources import open_source
from activities.storage import VaultStore
from byok.aws import AwsClients
from byok.default_key import ensure_default_key
from byok.envelope import DataKeyMaterial, Decryptor, Encryptor, KeyUnavailable, make_context
from byok.errors import Conflict
from byok.keycache import CachingKeyProvider, KeyCache
from byok.messages import BackupPlan, BackupResult, RestorePlan, RestoreResult
from byok.settings import Settings

HEARTBEAT_BYTES = 8 << 20
# Also heartbeat by time: a slow source (many tiny S3 objects) can take longer than the
# heartbeat timeout to yield 8 MiB; the SDK throttles what it actually sends.
HEARTBEAT_SECONDS = 5.0


class _Progress:
    def __init__(self) -> None:
        self.done = self.last = 0
        self.at = time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.done - self.last >= HEARTBEAT_BYTES or now - self.at >= HEARTBEAT_SECONDS:
            activity.heartbeat(self.done)  # plaintext bytes so far: the CLI's progress bar
            self.last, self.at = self.done, now


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
                 cache: KeyCache):
        self.aws, self.engine, self.settings = aws, engine, settings
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

    @activity.defn
    @byok_errors
    def write_backup(self, plan: BackupPlan) -> BackupResult:
        key_arn = plan.key_arn or self.default_key(plan.region)
        context = make_context(tenant_id=plan.tenant_id, backup_id=plan.backup_id,
                               workload=plan.workload, region=plan.region)
        chunks = open_source(plan.source, lambda name: self.aws.connection(
            name, plan.region, plan.source_account))
        materials = self.provider(plan.tenant_id).materials_for_backup(
            plan.tenant_id, plan.region, key_arn, plan.backup_id, context)
        try:
            enc = Encryptor(materials, context, self.settings.frame_size)
        finally:
            materials.wipe()
        # A retry after a crash starts over: the writer replaces any partial object.
        writer = self.store.writer(plan.object_key)
        try:
            writer.write(enc.header())
            progress = _Progress()
            for chunk in chunks:
                out = enc.update(chunk)
                if out:
                    writer.write(out)
                progress.add(len(chunk))
            writer.write(enc.finalize())
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        r = enc.result
        return BackupResult(plan.tenant_id, plan.backup_id, True, r.key_arn, r.plaintext_size,
                            r.stored_size, r.sha256 or "")

    @activity.defn
    @byok_errors
    def read_restore(self, plan: RestorePlan) -> RestoreResult:
        target = Path(plan.target)
        if target.exists() and not plan.force:
            raise Conflict(f"{target} already exists; pass --force to replace it",
                           field="target")
        context = make_context(tenant_id=plan.tenant_id, backup_id=plan.backup_id,
                               workload=plan.workload, region=plan.region)
        # A fresh name per attempt (opened exclusively): an earlier attempt that is still
        # running somewhere must never write into the file this one renames into place.
        tmp = target.with_name(f".{target.name}.{plan.restore_id}.{secrets.token_hex(4)}.partial")
        pattern = f".{glob.escape(target.name)}.{plan.restore_id}.*.partial"
        for stale in target.parent.glob(pattern):
            stale.unlink(missing_ok=True)  # left by a crashed attempt of this restore
        provider = _RecordedKeyOnly(self.provider(plan.tenant_id), plan.key_arn)
        try:
            with self.store.reader(plan.object_key) as src, tmp.open("xb") as out:
                dec = Decryptor(src.read, provider, context, digest=True)
                progress = _Progress()
                for chunk in dec:
                    out.write(chunk)
                    progress.add(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            if dec.result.sha256 != plan.sha256:
                raise Conflict("the restored bytes do not match the backup's SHA-256",
                               code="RESTORE_DIGEST_MISMATCH")
            # Only a fully verified restore reaches the target, in one rename.
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return RestoreResult(plan.tenant_id, plan.restore_id, True, dec.result.plaintext_size)
