"""Envelope crypto: HKDF key derivation, key commitment and AES-256-GCM frames."""

from __future__ import annotations

import hashlib
import hmac
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA512
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from byok.envelope.errors import (
    CommitmentMismatch,
    EnvelopeError,
    FrameAuthenticationFailed,
    HeaderAuthenticationFailed,
)
from byok.envelope.format import FRAME_HEADER, MAX_SEQ, BytesLike

DATA_KEY_LEN = 32
ENC_LABEL = b"BYKV1 DERIVEKEY"
COMMIT_LABEL = b"BYKV1 COMMITKEY"
HEADER_NONCE = bytes(12)  # sequence number 0 is reserved for the header tag
_NONCE = struct.Struct(">8xI")


def derive_keys(data_key: BytesLike, message_id: bytes, prefix: bytes) -> tuple[bytes, bytes]:
    """(encryption key, commitment) for one message, as the ESDK's committing suites do.

    The random message id as salt makes the encryption key fresh for every message even if
    a data key repeats (e.g. a retried backup derives the same per-backup key), so
    sequence-number nonces never repeat under one key. Hashing the header prefix into the
    info binds key ARN, wrapped key, context and frame size to both outputs.
    """
    if len(data_key) != DATA_KEY_LEN:
        raise EnvelopeError("data key must be 32 bytes")
    header_hash = hashlib.sha256(prefix).digest()

    def expand(label: bytes) -> bytes:
        kdf = HKDF(SHA512(), DATA_KEY_LEN, salt=message_id, info=label + header_hash)
        return kdf.derive(data_key)

    return expand(ENC_LABEL), expand(COMMIT_LABEL)


def check_commitment(expected: bytes, stored: bytes) -> None:
    if not hmac.compare_digest(expected, stored):
        raise CommitmentMismatch("the data key does not commit to this header (wrong key?)")


def frame_nonce(seq: int) -> bytes:
    return _NONCE.pack(seq)


class FrameCipher:
    """AES-256-GCM under one message's encryption key: the header tag and every frame."""

    __slots__ = ("_aead",)

    def __init__(self, enc_key: bytes) -> None:
        self._aead = AESGCM(enc_key)

    def header_tag(self, authenticated: bytes) -> bytes:
        # GMAC: GCM over an empty plaintext with the header as associated data.
        return self._aead.encrypt(HEADER_NONCE, b"", authenticated)

    def verify_header(self, authenticated: bytes, tag: bytes) -> None:
        try:
            self._aead.decrypt(HEADER_NONCE, tag, authenticated)
        except InvalidTag:
            raise HeaderAuthenticationFailed("header authentication tag does not verify") from None

    def seal_into(self, seq: int, kind: int, plaintext: BytesLike, out: memoryview) -> None:
        """Write frame header, ciphertext and tag into out (exactly len(plaintext) + 25 bytes).

        The 9-byte frame header is the AAD, so kind (final or not), length and sequence
        number are all authenticated without building a separate AAD buffer.
        """
        if not 1 <= seq <= MAX_SEQ:
            raise EnvelopeError("too many frames for this frame size")
        FRAME_HEADER.pack_into(out, 0, seq, kind, len(plaintext))
        self._aead.encrypt_into(_NONCE.pack(seq), plaintext, out[: FRAME_HEADER.size],
                                out[FRAME_HEADER.size :])

    def open(self, seq: int, frame_header: BytesLike, body: BytesLike) -> bytes:
        """Verify and decrypt one frame body (ciphertext || tag); nothing is returned unverified."""
        try:
            return self._aead.decrypt(_NONCE.pack(seq), body, frame_header)
        except InvalidTag:
            raise FrameAuthenticationFailed(f"frame {seq} does not authenticate") from None
