"""Shared fixtures-as-functions for the envelope tests: providers, contexts, encrypt and decrypt."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Mapping

from byok.envelope import (
    DataKeyMaterial,
    Encryptor,
    RawAesKeyProvider,
    decrypt_stream,
    make_context,
)

ARN_A = "arn:aws:kms:us-east-1:111122223333:key/mrk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
ARN_B = "arn:aws:kms:us-east-1:444455556666:key/mrk-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
KEYS = {ARN_A: bytes(range(32)), ARN_B: bytes(range(1, 33))}


def context(tenant: str = "tenant-a", backup: str = "backup-1", region: str = "us-east-1"
            ) -> dict[str, str]:
    return make_context(tenant_id=tenant, backup_id=backup, workload="EBS", region=region)


def raw_provider() -> RawAesKeyProvider:
    return RawAesKeyProvider(KEYS)


def encrypt(plaintext: bytes, materials: DataKeyMaterial, ctx: Mapping[str, str],
            frame_size: int = 16, chunk: int | None = None, **kw: object) -> bytes:
    enc = Encryptor(materials, ctx, frame_size, **kw)  # type: ignore[arg-type]
    step = chunk or max(len(plaintext), 1)
    chunks = [plaintext[i : i + step] for i in range(0, len(plaintext), step)]
    return b"".join(bytes(x) for x in enc.stream(chunks))


def decrypt(ciphertext: bytes, provider: object, ctx: Mapping[str, str]) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(ciphertext).read, provider, ctx))  # type: ignore[arg-type]


class CountingProvider:
    """The raw provider, counting calls (stands in for KMS in cache tests) and keeping keys."""

    def __init__(self) -> None:
        self.inner = raw_provider()
        self.generated: list[bytearray] = []
        self.generates = self.unwraps = 0
        self.delay = 0.0  # seconds, to widen race windows like a real KMS round trip
        self._lock = threading.Lock()

    def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
        with self._lock:
            self.generates += 1
        time.sleep(self.delay)
        made = self.inner.generate(key_arn, context)
        self.generated.append(made.plaintext_key)
        return made

    def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
        with self._lock:
            self.unwraps += 1
        return self.inner.unwrap(wrapped, key_arn, context)
