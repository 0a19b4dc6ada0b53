"""Regenerate tests/vectors/*.json from fixed keys, ids and plaintexts (run from the repo root)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

from byok.envelope import Encryptor, RawAesKeyProvider, make_context
from byok.envelope.crypto import derive_keys
from byok.envelope.format import parse_header
from byok.keycache import CachingKeyProvider, derive_backup_key

HERE = Path(__file__).parent
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
WRAPPING_KEY = bytes(range(32))
DATA_KEY = bytes(range(32, 64))
WRAP_IV = bytes(range(64, 76))
MESSAGE_ID = bytes(range(100, 132))
FRAME_SIZE = 16
CONTEXT = make_context(tenant_id="tenant-a", backup_id="backup-0001", workload="EBS",
                       region="us-east-1")
PLAINTEXTS = {
    "empty": b"",
    "one-byte": b"a",
    "one-frame": b"0123456789abcdef",
    "multi-frame": b"The quick brown fox jumps over the lazy dog",
}


def fixed_rng(*outputs: bytes) -> Callable[[int], bytes]:
    queue = list(outputs)

    def rng(n: int) -> bytes:
        out = queue.pop(0)
        assert len(out) == n
        return out

    return rng


def encrypt(provider_kind: str, plaintext: bytes) -> dict[str, object]:
    inner = RawAesKeyProvider({KEY_ARN: WRAPPING_KEY}, rng=fixed_rng(DATA_KEY, WRAP_IV))
    if provider_kind == "raw-aes":
        materials = inner.generate(KEY_ARN, CONTEXT)
    else:
        materials = CachingKeyProvider(inner, None).generate(KEY_ARN, CONTEXT)
    data_key = bytes(materials.plaintext_key)
    enc = Encryptor(materials, CONTEXT, FRAME_SIZE, message_id=MESSAGE_ID)
    ciphertext = b"".join(bytes(x) for x in enc.stream([plaintext]))
    header = parse_header(io.BytesIO(ciphertext).read)
    enc_key, commitment = derive_keys(data_key, MESSAGE_ID, header.prefix)
    vector: dict[str, object] = {
        "provider": provider_kind,
        "key_arn": KEY_ARN,
        "wrapping_key": WRAPPING_KEY.hex(),
        "provider_rng": [DATA_KEY.hex(), WRAP_IV.hex()],
        "message_id": MESSAGE_ID.hex(),
        "frame_size": FRAME_SIZE,
        "context": CONTEXT,
        "plaintext": plaintext.hex(),
        "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
        "wrapped": materials.wrapped.hex(),
        "data_key": data_key.hex(),
        "header_prefix_sha256": hashlib.sha256(header.prefix).hexdigest(),
        "encryption_key": enc_key.hex(),
        "commitment": commitment.hex(),
        "header_length": len(header.to_bytes()),
        "ciphertext": ciphertext.hex(),
    }
    if provider_kind == "caching+raw-aes":
        assert bytes(derive_backup_key(bytearray(DATA_KEY), "tenant-a", "backup-0001")) == data_key
        vector["intermediate_key"] = DATA_KEY.hex()
    return vector


def negative(base: dict[str, object]) -> list[dict[str, object]]:
    """Corruptions of the multi-frame vector, each with the error a reader must raise."""
    ct = bytes.fromhex(str(base["ciphertext"]))
    hlen = int(str(base["header_length"]))
    step = 9 + FRAME_SIZE + 16
    f1, f2 = ct[hlen : hlen + step], ct[hlen + step : hlen + 2 * step]
    flipped_tag = bytearray(ct)
    flipped_tag[hlen - 1] ^= 1
    flipped_frame = bytearray(ct)
    flipped_frame[hlen + 20] ^= 0x80
    cases = {
        "truncated-inside-header": (ct[: hlen - 3], "TruncatedCiphertext"),
        "no-final-frame": (ct[: hlen + 2 * step], "TruncatedCiphertext"),
        "trailing-byte": (ct + b"\x00", "TrailingData"),
        "frames-swapped": (ct[:hlen] + f2 + f1 + ct[hlen + 2 * step :], "FrameSequenceError"),
        "frame-dropped": (ct[:hlen] + f2 + ct[hlen + 2 * step :], "FrameSequenceError"),
        "header-tag-flipped": (bytes(flipped_tag), "HeaderAuthenticationFailed"),
        "frame-bit-flipped": (bytes(flipped_frame), "FrameAuthenticationFailed"),
        "version-2": (ct[:4] + b"\x02" + ct[5:], "UnsupportedFormatVersion"),
    }
    return [{"name": name, "ciphertext": data.hex(), "error": error}
            for name, (data, error) in cases.items()]


def build() -> dict[str, object]:
    positive = [{"name": f"{kind}/{name}", **encrypt(kind, pt)}
                for kind in ("raw-aes", "caching+raw-aes") for name, pt in PLAINTEXTS.items()]
    return {
        "description": "byok-vault envelope v1 vectors; see docs/FORMAT.md",
        "positive": positive,
        "negative": {"base": "raw-aes/multi-frame", "cases": negative(positive[3])},
    }


if __name__ == "__main__":
    out = HERE / "envelope_v1.json"
    text = json.dumps(build(), indent=2) + "\n"
    if "--check" in sys.argv:
        sys.exit(0 if out.read_text() == text else 1)
    out.write_text(text)
    print(f"wrote {out}")
