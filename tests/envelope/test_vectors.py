"""The published vectors decrypt, re-encrypt byte for byte, and match an independent reader."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256, SHA512
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import byok.envelope as envelope
from byok.envelope import Encryptor, RawAesKeyProvider, decrypt_stream
from byok.keycache import CachingKeyProvider

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "envelope_v1.json").read_text())
POSITIVE = VECTORS["positive"]


def provider_for(v: dict[str, Any]) -> Any:
    outputs = [bytes.fromhex(h) for h in v["provider_rng"]]
    raw = RawAesKeyProvider({v["key_arn"]: bytes.fromhex(v["wrapping_key"])},
                            rng=lambda n: outputs.pop(0))
    return raw if v["provider"] == "raw-aes" else CachingKeyProvider(raw, None)


@pytest.mark.parametrize("v", POSITIVE, ids=[v["name"] for v in POSITIVE])
def test_vector_decrypts_and_reencrypts(v: dict[str, Any]) -> None:
    provider = provider_for(v)
    ct = bytes.fromhex(v["ciphertext"])
    plain = b"".join(decrypt_stream(io.BytesIO(ct).read, provider, v["context"]))
    assert plain == bytes.fromhex(v["plaintext"])
    materials = provider.generate(v["key_arn"], v["context"])
    enc = Encryptor(materials, v["context"], v["frame_size"],
                    message_id=bytes.fromhex(v["message_id"]))
    assert b"".join(bytes(x) for x in enc.stream([plain])) == ct
    assert enc.result.sha256 == v["plaintext_sha256"]


@pytest.mark.parametrize("case", VECTORS["negative"]["cases"], ids=lambda c: c["name"])
def test_negative_vectors(case: dict[str, Any]) -> None:
    base = next(v for v in POSITIVE if v["name"] == VECTORS["negative"]["base"])
    with pytest.raises(getattr(envelope, case["error"])):
        b"".join(decrypt_stream(io.BytesIO(bytes.fromhex(case["ciphertext"])).read,
                                provider_for(base), base["context"]))


def independent_decrypt(v: dict[str, Any]) -> bytes:
    """A reader written from docs/FORMAT.md alone, sharing no code with byok.envelope."""
    ct = bytes.fromhex(v["ciphertext"])
    assert ct[:5] == b"BYKV\x01"
    (hlen,) = struct.unpack(">I", ct[5:9])
    header, rest = ct[: 9 + hlen], ct[9 + hlen :]
    message_id, frame_size = header[9:41], struct.unpack(">I", header[41:45])[0]
    prefix, commitment, tag = header[:-48], header[-48:-16], header[-16:]
    arn = v["key_arn"].encode()
    ctx = sorted((k.encode(), x.encode()) for k, x in v["context"].items())
    enc_ctx = struct.pack(">H", len(ctx)) + b"".join(
        struct.pack(">H", len(k)) + k + struct.pack(">H", len(x)) + x for k, x in ctx)
    wrapped = bytes.fromhex(v["wrapped"])
    assert prefix == (header[:45] + struct.pack(">H", len(arn)) + arn
                      + struct.pack(">H", len(wrapped)) + wrapped + enc_ctx)
    wrap_aad = b"BYKV-RAW1" + struct.pack(">H", len(arn)) + arn
    if v["provider"] == "raw-aes":
        key = AESGCM(bytes.fromhex(v["wrapping_key"])).decrypt(
            wrapped[:12], wrapped[12:], wrap_aad + enc_ctx)
    else:
        assert wrapped[:4] == b"BKI1"
        rlen = struct.unpack(">H", wrapped[4:6])[0]
        region, blob = wrapped[6 : 6 + rlen], wrapped[8 + rlen :]
        kms = sorted([(b"purpose", b"byok-vault-intermediate-key-v1"), (b"region", region),
                      (b"tenant_id", v["context"]["tenant_id"].encode())])
        kms_ctx = struct.pack(">H", 3) + b"".join(
            struct.pack(">H", len(k)) + k + struct.pack(">H", len(x)) + x for k, x in kms)
        inter = AESGCM(bytes.fromhex(v["wrapping_key"])).decrypt(
            blob[:12], blob[12:], wrap_aad + kms_ctx)
        t, b = v["context"]["tenant_id"].encode(), v["context"]["backup_id"].encode()
        info = (b"BYKV1 BACKUPKEY" + struct.pack(">H", len(t)) + t
                + struct.pack(">H", len(b)) + b)
        key = HKDF(SHA256(), 32, None, info).derive(inter)
    h = hashlib.sha256(prefix).digest()
    enc_key = HKDF(SHA512(), 32, message_id, b"BYKV1 DERIVEKEY" + h).derive(key)
    assert HKDF(SHA512(), 32, message_id, b"BYKV1 COMMITKEY" + h).derive(key) == commitment
    aead = AESGCM(enc_key)
    assert aead.decrypt(bytes(12), tag, prefix + commitment) == b""
    out, seq = b"", 0
    while True:
        seq += 1
        num, kind, length = struct.unpack(">IBI", rest[:9])
        assert num == seq and ((kind == 0 and length == frame_size) or kind == 1)
        out += aead.decrypt(bytes(8) + struct.pack(">I", seq), rest[9 : 9 + length + 16],
                            rest[:9])
        rest = rest[9 + length + 16 :]
        if kind == 1:
            assert rest == b""
            return out


@pytest.mark.parametrize("v", POSITIVE, ids=[v["name"] for v in POSITIVE])
def test_independent_reader_agrees(v: dict[str, Any]) -> None:
    assert independent_decrypt(v) == bytes.fromhex(v["plaintext"])


def test_generator_output_is_current() -> None:
    path = Path(__file__).parents[1] / "vectors" / "generate.py"
    spec = importlib.util.spec_from_file_location("vector_generator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == VECTORS
