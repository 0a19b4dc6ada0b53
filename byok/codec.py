"""Temporal payload codec: every payload and failure attribute AES-256-GCM encrypted."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from byok.keyspec import parse_keys

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE = 12


class PayloadDecryptError(Exception):
    """A payload this process cannot open (unknown key id or tampered ciphertext)."""


class EncryptionCodec(PayloadCodec):
    """Encrypts each serialized payload; the key id travels in the metadata (never the key),
    and the metadata's key id is bound as associated data so it cannot be swapped."""

    def __init__(self, spec: str) -> None:
        keys = parse_keys(spec, "BYOK_PAYLOAD_KEYS")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = next(iter(self._keys))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        aead = self._keys[self._current]
        out = []
        for p in payloads:
            nonce = os.urandom(NONCE)
            sealed = aead.encrypt(nonce, p.SerializeToString(), self._current.encode())
            out.append(Payload(metadata={"encoding": ENCODING,
                                         KEY_ID: self._current.encode()},
                               data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(p) for p in payloads]

    def _open(self, p: Payload) -> Payload:
        if p.metadata.get("encoding") != ENCODING:
            return p  # written before the codec (or by a tool without it): plain already
        kid = p.metadata.get(KEY_ID, b"").decode()
        aead = self._keys.get(kid)
        if aead is None:
            raise PayloadDecryptError(f"payload encrypted with key id {kid!r}, which this "
                                      "process does not hold (BYOK_PAYLOAD_KEYS)")
        try:
            plain = aead.decrypt(p.data[:NONCE], p.data[NONCE:], kid.encode())
        except InvalidTag:
            raise PayloadDecryptError(
                f"payload under key id {kid!r} failed authentication") from None
        return Payload.FromString(plain)


def data_converter(payload_keys: str) -> DataConverter:
    """Pydantic payloads, encrypted, with failure messages and stacks encoded too."""
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(payload_keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
