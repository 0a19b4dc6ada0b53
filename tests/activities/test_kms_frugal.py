"""KMS frugality of VaultActivities, counted as HTTP requests reaching localaws, and tenant
isolation of the shared key cache."""

from __future__ import annotations

import io
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy.engine import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.storage import FileStore
from activities.vault import VaultActivities
from byok import backups, crud
from byok.aws import AwsClients
from byok.db import session_scope
from byok.envelope import make_context, read_header
from byok.errors import ByokError
from byok.keycache import KeyCache
from byok.messages import BackupInput, RestoreInput
from byok.settings import Settings
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from worker import key_cache

REGION = "us-east-1"



def new_tenant(engine: Engine, name: str) -> str:
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name=name)
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT, regions=[REGION])
        return t.id


class Vault:
    """VaultActivities called directly (in an activity context) with real plans."""

    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, cache: KeyCache,
                 tmp: Path):
        self.engine, self.tmp, self.settings = engine, tmp, settings
        self.acts = VaultActivities(aws, engine, settings, FileStore(settings.vault_dir), cache)
        self.env = ActivityEnvironment()

    def backup(self, tenant: str, data: bytes) -> str:
        backup_id = backups.new_id("bk")
        src = backups.uploads_dir(self.settings, tenant) / backup_id  # where the worker reads
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(data)
        with session_scope(self.engine) as session:
            plan = backups.plan_backup(session, self.settings, BackupInput(
                tenant, backup_id, "m365", f"file://{src}", REGION, "test"))
        result = self.env.run(self.acts.write_backup, plan)
        with session_scope(self.engine) as session:
            backups.finish_backup(session, result)
        return backup_id

    def restore(self, tenant: str, backup_id: str, name: str = "") -> bytes:
        target = backups.restores_dir(self.settings, tenant) / f"{name or backup_id}.out"
        with session_scope(self.engine) as session:
            plan = backups.plan_restore(session, self.settings, RestoreInput(
                tenant, backups.new_id("rs"), backup_id, str(target)))
        self.env.run(self.acts.read_restore, plan)
        return target.read_bytes()


def test_200_small_backups_and_restores_make_a_couple_of_kms_calls(
        counting: AwsClients, engine: Engine, settings: Settings,
        tmp_path: Path) -> None:
    tenant = new_tenant(engine, "acme")
    vault = Vault(counting, engine, settings, key_cache(settings), tmp_path)
    made = {vault.backup(tenant, f"mail {i}".encode() * 50): f"mail {i}".encode() * 50
            for i in range(200)}
    assert counting.requests["kms"]["GenerateDataKey"] <= 2, counting.requests["kms"]
    for backup_id, data in made.items():
        assert vault.restore(tenant, backup_id) == data
    assert counting.requests["kms"]["Decrypt"] <= 2, counting.requests["kms"]
    kms = counting.requests["kms"]
    assert sum(kms.values()) <= 6, kms  # no per-backup DescribeKey either


def test_without_the_cache_every_backup_calls_kms(counting: AwsClients, engine: Engine,
                                                  settings: Settings, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The counter really sees KMS: the naive provider makes one call per backup."""
    tenant = new_tenant(engine, "acme")
    vault = Vault(counting, engine, settings, key_cache(settings), tmp_path)
    monkeypatch.setattr(vault.acts, "provider",
                        lambda t: VaultActivities.provider(vault.acts, t).without_cache())
    ids = [vault.backup(tenant, b"x" * 100) for _ in range(5)]
    for backup_id in ids:
        vault.restore(tenant, backup_id)
    kms = counting.requests["kms"]
    assert kms["GenerateDataKey"] == 5 and kms["Decrypt"] == 5


def test_tenants_never_share_a_cached_key(counting: AwsClients, engine: Engine,
                                          settings: Settings, tmp_path: Path) -> None:
    a, b = new_tenant(engine, "acme"), new_tenant(engine, "globex")
    cache = key_cache(settings)
    vault = Vault(counting, engine, settings, cache, tmp_path)
    a1, b1 = vault.backup(a, b"A's data" * 100), vault.backup(b, b"B's data" * 100)
    # Same region, same (default) KMS key: still one intermediate key per tenant.
    assert counting.requests["kms"]["GenerateDataKey"] == 2
    assert vault.restore(a, a1) == b"A's data" * 100  # warms A's unwrap entry
    assert vault.restore(b, b1) == b"B's data" * 100
    keys = {cast(tuple[str, ...], k)[:2] for k in cache._entries}
    assert keys == {("generate", a), ("generate", b), ("unwrap", a), ("unwrap", b)}
    head_a = read_header(io.BytesIO(
        (settings.vault_dir / a / f"{a1}.byok").read_bytes()).read)
    head_b = read_header(io.BytesIO(
        (settings.vault_dir / b / f"{b1}.byok").read_bytes()).read)
    assert head_a.wrapped != head_b.wrapped
    # B asks for A's wrapped key (warm in the cache under A) in B's context: the cache does
    # not serve it, and KMS refuses because the intermediate key is bound to tenant A.
    decrypts, hits = counting.requests["kms"]["Decrypt"], cache.stats.hits
    ctx_b = make_context(tenant_id=b, backup_id=a1, workload="m365", region=REGION)
    with pytest.raises(ByokError):
        vault.acts.provider(b).unwrap(head_a.wrapped, head_a.key_arn, ctx_b)
    assert counting.requests["kms"]["Decrypt"] == decrypts + 1 and cache.stats.hits == hits
    # And A's backup restored through B's context (a restore of B's catalog row pointing at
    # A's object) stops at the context check, before any key is touched.
    (settings.vault_dir / b / f"{b1}.byok").write_bytes(
        (settings.vault_dir / a / f"{a1}.byok").read_bytes())
    with pytest.raises(ApplicationError) as info:
        vault.restore(b, b1, name="forged")
    assert info.value.type == "ContextMismatch"
    assert counting.requests["kms"]["Decrypt"] == decrypts + 1
    assert not (tmp_path / "forged.out").exists()
