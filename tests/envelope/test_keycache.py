"""KeyCache bounds (age, uses, LRU), tenant isolation, single-flight and thread safety."""

from __future__ import annotations

import io
import threading

import pytest

from byok.envelope import ContextMismatch, KeyUnavailable, drill, read_header
from byok.keycache import CachingKeyProvider, KeyCache

from .helpers import ARN_A, CountingProvider, context, decrypt, encrypt


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backup(provider: CachingKeyProvider, tenant: str, backup_id: str,
           region: str = "us-east-1") -> tuple[bytes, dict[str, str]]:
    ctx = context(tenant, backup_id, region)
    materials = provider.materials_for_backup(tenant, region, ARN_A, backup_id, ctx)
    return encrypt(backup_id.encode() * 3, materials, ctx), ctx


def test_one_kms_call_serves_many_backups_and_restores() -> None:
    kms = CountingProvider()
    provider = CachingKeyProvider(kms, KeyCache())
    made = [backup(provider, "t1", f"b{i}") for i in range(100)]
    assert kms.generates == 1
    for i, (ct, ctx) in enumerate(made):
        assert decrypt(ct, provider, ctx) == f"b{i}".encode() * 3
    assert kms.unwraps == 1
    keys = {bytes(provider.materials_for_backup("t1", "us-east-1", ARN_A, f"b{i}",
                                                context("t1", f"b{i}")).plaintext_key)
            for i in range(10)}
    assert len(keys) == 10  # each backup has its own derived key


def test_max_age_forces_a_new_key_and_zeroes_the_old() -> None:
    kms, clock = CountingProvider(), Clock()
    provider = CachingKeyProvider(kms, KeyCache(max_age=300, clock=clock))
    backup(provider, "t1", "b1")
    clock.now += 299
    backup(provider, "t1", "b2")
    assert kms.generates == 1
    clock.now += 2
    backup(provider, "t1", "b3")
    assert kms.generates == 2 and kms.generated[0] == bytearray(32)


def test_max_uses_bounds_each_intermediate_key() -> None:
    kms = CountingProvider()
    provider = CachingKeyProvider(kms, KeyCache(max_uses=3))
    for i in range(10):
        backup(provider, "t1", f"b{i}")
    assert kms.generates == 4
    assert all(k == bytearray(32) for k in kms.generated[:3])


def test_lru_bounds_entries() -> None:
    kms = CountingProvider()
    cache = KeyCache(max_entries=2)
    provider = CachingKeyProvider(kms, cache)
    backup(provider, "t1", "x")
    backup(provider, "t2", "x")
    backup(provider, "t1", "y")  # t1 is now most recently used
    backup(provider, "t3", "x")  # evicts t2
    assert len(cache) == 2 and kms.generates == 3
    backup(provider, "t1", "z")
    assert kms.generates == 3
    backup(provider, "t2", "y")
    assert kms.generates == 4 and cache.stats.evictions == 2


def test_one_tenants_key_never_serves_another() -> None:
    kms = CountingProvider()
    provider = CachingKeyProvider(kms, KeyCache())
    ct, ctx_a = backup(provider, "tenant-a", "b1")
    assert decrypt(ct, provider, ctx_a)  # tenant a's intermediate key is now cached
    ctx_b = {**ctx_a, "tenant_id": "tenant-b"}
    with pytest.raises(ContextMismatch):
        decrypt(ct, provider, ctx_b)
    header = read_header(io.BytesIO(ct).read)
    # Even past the header check, KMS (here the raw provider) refuses tenant b's context.
    with pytest.raises(KeyUnavailable):
        provider.unwrap(header.wrapped, header.key_arn, ctx_b)
    with pytest.raises(ContextMismatch):
        provider.materials_for_backup("tenant-b", "us-east-1", ARN_A, "b1", ctx_a)
    a_b = backup(provider, "tenant-b", "b1")
    assert kms.generates == 2 and a_b[0] != ct


def test_drill_without_cache_really_unwraps() -> None:
    kms = CountingProvider()
    provider = CachingKeyProvider(kms, KeyCache())
    ct, ctx = backup(provider, "t1", "b1")
    decrypt(ct, provider, ctx)
    for _ in range(3):
        drill(io.BytesIO(ct).read, provider.without_cache(), ctx)
    assert kms.unwraps == 4


def test_clear_zeroes_everything() -> None:
    kms = CountingProvider()
    cache = KeyCache()
    backup(CachingKeyProvider(kms, cache), "t1", "b1")
    cache.clear()
    assert len(cache) == 0 and kms.generated[0] == bytearray(32)


def test_threads_share_one_kms_call_per_tenant_and_stay_correct() -> None:
    kms = CountingProvider()
    provider = CachingKeyProvider(kms, KeyCache(max_uses=50))
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(60):
                tenant = f"t{(n + i) % 4}"
                ct, ctx = backup(provider, tenant, f"{n}-{i}")
                assert decrypt(ct, provider, ctx) == f"{n}-{i}".encode() * 3
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # 960 backups over 4 tenants at 50 uses per key: about 20 keys, never one per backup.
    assert 4 <= kms.generates <= 40


def test_single_flight_on_a_cold_cache() -> None:
    kms = CountingProvider()
    kms.delay = 0.05
    provider = CachingKeyProvider(kms, KeyCache())
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        backup(provider, "t1", f"b{n}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kms.generates == 1


def test_bounds_are_validated() -> None:
    with pytest.raises(ValueError):
        KeyCache(max_entries=0)
