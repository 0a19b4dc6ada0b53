"""Key-provider protocol, data-key material, and a raw AES provider for tests and vectors."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.envelope.errors import KeyUnavailable
from byok.envelope.format import encode_context, lp16

RAW_WRAP_LABEL = b"BYKV-RAW1"


def wipe(secret: bytearray) -> None:
    """Overwrite a key in place (same-length slice assignment does not reallocate)."""
    secret[:] = bytes(len(secret))


@dataclass(frozen=True, eq=False)
class DataKeyMaterial:
    """A plaintext data key, its wrapped form and the ARN of the key that wrapped it."""

    plaintext_key: bytearray
    wrapped: bytes
    key_arn: str

    def wipe(self) -> None:
        wipe(self.plaintext_key)

    def __repr__(self) -> str:  # never print key bytes
        return f"DataKeyMaterial(key_arn={self.key_arn!r}, wrapped=<{len(self.wrapped)} bytes>)"


@runtime_checkable
class KeyProvider(Protocol):
    """What the envelope needs from a key service (KMS implements it elsewhere).

    `context` is bound to the wrapped material (KMS encryption context): unwrap must fail
    unless given the same context that generate was given.
    """

    def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
        """A fresh 32-byte data key, wrapped under key_arn with context bound."""
        ...

    def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
        """The 32-byte plaintext key inside wrapped; raise an EnvelopeError or ByokError if not."""
        ...


class RawAesKeyProvider:
    """Wraps data keys with local AES-256-GCM keys by ARN; for tests, vectors and benchmarks.

    wrapped = iv (12) || AES-256-GCM(wrapping key, iv, data key, AAD) (32 + 16), where
    AAD = "BYKV-RAW1" || u16-length key ARN || canonical context (docs/FORMAT.md).
    """

    def __init__(
        self, keys: Mapping[str, bytes], *, rng: Callable[[int], bytes] = os.urandom
    ) -> None:
        for key in keys.values():
            if len(key) != 32:
                raise ValueError("raw wrapping keys must be 32 bytes")
        self._keys = {arn: AESGCM(key) for arn, key in keys.items()}
        # rng is injectable only so test vectors are reproducible.
        self._rng = rng

    def _aead(self, key_arn: str) -> AESGCM:
        try:
            return self._keys[key_arn]
        except KeyError:
            raise KeyUnavailable(f"no raw wrapping key for {key_arn}") from None

    @staticmethod
    def _aad(key_arn: str, context: Mapping[str, str]) -> bytes:
        return RAW_WRAP_LABEL + lp16(key_arn.encode()) + encode_context(context)

    def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
        aead = self._aead(key_arn)
        data_key = bytearray(self._rng(32))
        iv = self._rng(12)
        wrapped = iv + aead.encrypt(iv, data_key, self._aad(key_arn, context))
        return DataKeyMaterial(plaintext_key=data_key, wrapped=wrapped, key_arn=key_arn)

    def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
        aead = self._aead(key_arn)
        if len(wrapped) != 12 + 32 + 16:
            raise KeyUnavailable("wrapped key material has the wrong length for a raw AES key")
        try:
            return bytearray(aead.decrypt(wrapped[:12], wrapped[12:], self._aad(key_arn, context)))
        except InvalidTag:
            raise KeyUnavailable(f"cannot unwrap the data key with {key_arn}") from None
