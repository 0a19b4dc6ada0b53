"""Resuming an envelope after k stored frames gives the bytes of one uninterrupted run, and
a prefix that is not exactly such an envelope is refused (the caller then starts over)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from byok.envelope.format import FRAME_OVERHEAD
from byok.envelope.resume import resume_encryptor
from tests.envelope.test_vectors import POSITIVE, independent_decrypt, provider_for

MULTI = [v for v in POSITIVE if v["name"].endswith("multi-frame")]


class Prefix(io.BytesIO):
    def __len__(self) -> int:
        return len(self.getbuffer())


def split(v: dict[str, Any], frames: int) -> tuple[bytes, bytes, bytes]:
    ct, plain = bytes.fromhex(v["ciphertext"]), bytes.fromhex(v["plaintext"])
    cut = v["header_length"] + frames * (v["frame_size"] + FRAME_OVERHEAD)
    return ct, ct[:cut], plain


@pytest.mark.parametrize("frames", [1, 2])
@pytest.mark.parametrize("v", MULTI, ids=[v["name"] for v in MULTI])
def test_a_resumed_envelope_is_byte_identical_and_its_digest_covers_everything(
        v: dict[str, Any], frames: int) -> None:
    ct, stored, plain = split(v, frames)
    hasher = hashlib.sha256()
    enc = resume_encryptor(Prefix(stored), frames, v["key_arn"], v["context"], provider_for(v),
                           hasher)
    assert enc is not None
    assert hasher.digest() == hashlib.sha256(plain[: frames * v["frame_size"]]).digest()
    rest = plain[frames * v["frame_size"]:]
    hasher.update(rest)
    out = stored + bytes(enc.update(rest)) + bytes(enc.finalize())
    assert out == ct  # the published vector, byte for byte
    assert independent_decrypt({**v, "ciphertext": out.hex()}) == plain
    assert hasher.hexdigest() == v["plaintext_sha256"]
    assert (enc.result.plaintext_size, enc.result.stored_size) == (len(plain), len(ct))


@pytest.mark.parametrize("damage", ["key", "frames", "flip", "context"])
def test_a_prefix_that_is_not_exactly_ours_is_refused(damage: str) -> None:
    v = MULTI[0]
    _, stored, _ = split(v, 2)
    frames, key_arn, context = 2, v["key_arn"], dict(v["context"])
    if damage == "key":
        key_arn = key_arn.replace("1234", "9999")
    elif damage == "frames":
        frames = 1  # the prefix holds two frames, the checkpoint says one
    elif damage == "flip":
        stored = stored[:-3] + bytes([stored[-3] ^ 1]) + stored[-2:]
    else:
        context["backup_id"] = "backup-0002"
    assert resume_encryptor(Prefix(stored), frames, key_arn, context, provider_for(v),
                            hashlib.sha256()) is None
