"""VaultActivities: stream source -> envelope -> vault for a backup, and back for a restore.
Backup data never enters a Temporal payload; progress goes out as heartbeats."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.aws import AwsClients
from activities.base import byok_errors
from activities.keyprovider import KmsKeyProvider
from activities.sources import open_source
from activities.storage import VaultStore
from byok.envelope import Decryptor, Encryptor, make_context
from byok.errors import Conflict
from byok.keycache import CachingKeyProvider, KeyCache
from byok.messages import BackupPlan, BackupResult, RestorePlan, RestoreResult
from byok.settings import Settings
from starter.bootstrap import ensure_default_key

HEARTBEAT_BYTES = 8 << 20


class VaultActivities:
    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, store: VaultStore,
                 cache: KeyCache):
        self.aws, self.engine, self.settings = aws, engine, settings
        self.store, self.cache = store, cache

    def provider(self, tenant_id: str) -> CachingKeyProvider:
        """Per tenant: the cache is shared, but its keys always start with the tenant id."""
        return CachingKeyProvider(KmsKeyProvider(self.aws, self.engine, self.settings,
                                                 tenant_id), self.cache)

    @activity.defn
    @byok_errors
    def write_backup(self, plan: BackupPlan) -> BackupResult:
        key_arn = plan.key_arn or ensure_default_key(self.aws, self.settings, plan.region)
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
            done = last = 0
            for chunk in chunks:
                out = enc.update(chunk)
                if out:
                    writer.write(out)
                done += len(chunk)
                if done - last >= HEARTBEAT_BYTES:
                    activity.heartbeat(done)  # plaintext bytes so far: the CLI's progress bar
                    last = done
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
        tmp = target.with_name(f".{target.name}.{plan.restore_id}.partial")
        try:
            with self.store.reader(plan.object_key) as src, tmp.open("wb") as out:
                dec = Decryptor(src.read, self.provider(plan.tenant_id), context, digest=True)
                done = last = 0
                for chunk in dec:
                    out.write(chunk)
                    done += len(chunk)
                    if done - last >= HEARTBEAT_BYTES:
                        activity.heartbeat(done)
                        last = done
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
