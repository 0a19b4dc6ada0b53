"""KMS-frugal key cache (as S3 Bucket Keys): cached intermediate keys, per-backup keys by HKDF."""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from byok.envelope.decrypt import check_context
from byok.envelope.errors import ContextMismatch, KeyUnavailable
from byok.envelope.format import Header, lp16
from byok.envelope.provider import DataKeyMaterial, KeyProvider, wipe

DEFAULT_MAX_AGE = 300.0  # seconds an intermediate key may be used after KMS produced it
DEFAULT_MAX_USES = 10_000  # backups (or restores) served per cached intermediate key
DEFAULT_MAX_ENTRIES = 1_000  # cached keys in total; least recently used go first
BACKUP_KEY_LABEL = b"BYKV1 BACKUPKEY"
INTERMEDIATE_PURPOSE = "byok-vault-intermediate-key-v1"
WRAP_TAG = b"BKI1"  # wrapped material produced by CachingKeyProvider, docs/FORMAT.md

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


@dataclass
class _Entry:
    secret: bytearray
    info: object
    created: float
    uses: int = 0


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class KeyCache:
    """Thread-safe LRU of plaintext keys bounded by entries, age and uses; zeroes what it evicts."""

    def __init__(self, *, max_age: float = DEFAULT_MAX_AGE, max_uses: int = DEFAULT_MAX_USES,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_age <= 0 or max_uses < 1 or max_entries < 1:
            raise ValueError("cache bounds must be positive")
        self.max_age, self.max_uses, self.max_entries = max_age, max_uses, max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # One creation in flight per key, so a burst of backups costs one KMS call, not N.
        self._inflight: dict[Hashable, threading.Lock] = {}
        self.stats = CacheStats()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _evict(self, key: Hashable) -> None:
        wipe(self._entries.pop(key).secret)
        self.stats.evictions += 1

    def _live(self, key: Hashable) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.created >= self.max_age:
            self._evict(key)
            entry = None
        return entry

    def _serve(self, key: Hashable, entry: _Entry, fn: Callable[[bytearray, I], R]) -> R:
        # Runs under the lock, so the secret cannot be zeroed by an eviction mid-derivation.
        self._entries.move_to_end(key)
        entry.uses += 1
        result = fn(entry.secret, cast(I, entry.info))
        if entry.uses >= self.max_uses:
            self._evict(key)
        return result

    def use(self, key: Hashable, create: Callable[[], tuple[bytearray, I]],
            fn: Callable[[bytearray, I], R]) -> R:
        """fn(secret, info) on the cached entry for key, creating it with create() on a miss.

        create runs outside the cache lock (it calls KMS); fn runs inside it (it derives).
        """
        with self._lock:
            entry = self._live(key)
            if entry is not None:
                self.stats.hits += 1
                return self._serve(key, entry, fn)
            flight = self._inflight.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                entry = self._live(key)
                if entry is not None:
                    self.stats.hits += 1
                    return self._serve(key, entry, fn)
                self.stats.misses += 1
            try:
                secret, info = create()
            except BaseException:
                with self._lock:
                    self._inflight.pop(key, None)
                raise
            with self._lock:
                # Same critical section as the insert: no window where a caller finds
                # neither the entry nor the in-flight lock and calls KMS again.
                self._inflight.pop(key, None)
                if key in self._entries:
                    self._evict(key)
                entry = self._entries[key] = _Entry(secret, info, self._clock())
                self._sweep()
                return self._serve(key, entry, fn)

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if now - e.created >= self.max_age]:
            self._evict(key)
        while len(self._entries) > self.max_entries:
            self._evict(next(iter(self._entries)))

    def clear(self) -> None:
        """Zero and drop every key (e.g. on worker shutdown)."""
        with self._lock:
            for key in list(self._entries):
                self._evict(key)


def _intermediate_context(tenant_id: str, region: str) -> dict[str, str]:
    # KMS binds the intermediate key to the tenant: another tenant's context cannot unwrap it.
    return {"purpose": INTERMEDIATE_PURPOSE, "region": region, "tenant_id": tenant_id}


def derive_backup_key(intermediate: bytearray, tenant_id: str, backup_id: str) -> bytearray:
    """Per-backup data key = HKDF-SHA256(intermediate, info=label || tenant id || backup id)."""
    info = BACKUP_KEY_LABEL + lp16(tenant_id.encode()) + lp16(backup_id.encode())
    return bytearray(HKDF(SHA256(), 32, salt=None, info=info).derive(intermediate))


def _wrap(region: str, blob: bytes) -> bytes:
    return WRAP_TAG + lp16(region.encode()) + lp16(blob)


def _unwrap_fields(wrapped: bytes) -> tuple[str, bytes]:
    try:
        if wrapped[:4] != WRAP_TAG:
            raise ValueError
        (rlen,) = struct.unpack_from(">H", wrapped, 4)
        region = wrapped[6 : 6 + rlen].decode()
        (blen,) = struct.unpack_from(">H", wrapped, 6 + rlen)
        blob = wrapped[8 + rlen :]
        if len(blob) != blen or not blob or not region:
            raise ValueError
    except (ValueError, struct.error):
        raise KeyUnavailable("wrapped material is not an intermediate-key wrapping") from None
    return region, blob


def _required(context: Mapping[str, str], name: str, value: str | None = None) -> str:
    found = context.get(name)
    if not found or (value is not None and found != value):
        raise ContextMismatch(f"encryption context must carry the matching {name}")
    return found


class CachingKeyProvider:
    """KeyProvider over an inner (KMS) provider: one GenerateDataKey serves many backups.

    Cache keys always start with the tenant id, and the intermediate key's KMS context
    carries it too, so one tenant's key can never serve another even if the cache erred.
    cache=None disables caching (drills use that to prove KMS still unwraps).
    """

    def __init__(self, inner: KeyProvider, cache: KeyCache | None) -> None:
        self.inner, self.cache = inner, cache

    def without_cache(self) -> CachingKeyProvider:
        return CachingKeyProvider(self.inner, None)

    def _use(self, key: tuple[str, ...], create: Callable[[], tuple[bytearray, I]],
             fn: Callable[[bytearray, I], R]) -> R:
        if self.cache is not None:
            return self.cache.use(key, create, fn)
        secret, info = create()
        try:
            return fn(secret, info)
        finally:
            wipe(secret)

    def materials_for_backup(self, tenant_id: str, region: str, key_arn: str, backup_id: str,
                             context: Mapping[str, str]) -> DataKeyMaterial:
        """The data key and header fields for one backup (usually without calling KMS)."""
        _required(context, "tenant_id", tenant_id)
        _required(context, "backup_id", backup_id)
        if "region" in context:
            _required(context, "region", region)

        def create() -> tuple[bytearray, tuple[bytes, str]]:
            made = self.inner.generate(key_arn, _intermediate_context(tenant_id, region))
            return made.plaintext_key, (_wrap(region, made.wrapped), made.key_arn)

        def derive(secret: bytearray, info: tuple[bytes, str]) -> DataKeyMaterial:
            wrapped, actual_arn = info
            return DataKeyMaterial(derive_backup_key(secret, tenant_id, backup_id), wrapped,
                                   actual_arn)

        return self._use(("generate", tenant_id, region, key_arn), create, derive)

    def materials_for_restore(self, header: Header, expected_context: Mapping[str, str]
                              ) -> bytearray:
        """The data key of a backup whose header carries expected_context (checked first)."""
        check_context(header.context, expected_context)
        return self.unwrap(header.wrapped, header.key_arn, expected_context)

    def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
        return self.materials_for_backup(
            _required(context, "tenant_id"), _required(context, "region"), key_arn,
            _required(context, "backup_id"), context)

    def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
        # The tenant comes from the caller's expected context, never from the ciphertext.
        tenant_id = _required(context, "tenant_id")
        backup_id = _required(context, "backup_id")
        region, blob = _unwrap_fields(wrapped)

        def create() -> tuple[bytearray, None]:
            kms_context = _intermediate_context(tenant_id, region)
            return self.inner.unwrap(blob, key_arn, kms_context), None

        def derive(secret: bytearray, _: None) -> bytearray:
            return derive_backup_key(secret, tenant_id, backup_id)

        digest = hashlib.sha256(blob).hexdigest()
        return self._use(("unwrap", tenant_id, region, key_arn, digest), create, derive)
