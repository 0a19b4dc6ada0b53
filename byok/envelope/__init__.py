"""Envelope encryption of backups: framed AES-256-GCM under a committed per-backup key."""

from byok.envelope.decrypt import (
    DecryptionResult,
    Decryptor,
    DrillResult,
    decrypt_stream,
    drill,
    open_header,
    read_header,
)
from byok.envelope.digest import DEFAULT_DIGEST, DIGESTS, new_hasher
from byok.envelope.errors import (
    CommitmentMismatch,
    ContextMismatch,
    EnvelopeError,
    FrameAuthenticationFailed,
    FrameSequenceError,
    HeaderAuthenticationFailed,
    KeyUnavailable,
    MalformedCiphertext,
    TrailingData,
    TruncatedCiphertext,
    UnsupportedFormatVersion,
)
from byok.envelope.format import DEFAULT_FRAME_SIZE, VERSION, Header
from byok.envelope.provider import DataKeyMaterial, KeyProvider, RawAesKeyProvider
from byok.envelope.stream import EncryptionResult, Encryptor, encrypt_stream, make_context

__all__ = [
    "DEFAULT_DIGEST",
    "DEFAULT_FRAME_SIZE",
    "DIGESTS",
    "VERSION",
    "CommitmentMismatch",
    "ContextMismatch",
    "DataKeyMaterial",
    "DecryptionResult",
    "Decryptor",
    "DrillResult",
    "EncryptionResult",
    "Encryptor",
    "EnvelopeError",
    "FrameAuthenticationFailed",
    "FrameSequenceError",
    "Header",
    "HeaderAuthenticationFailed",
    "KeyProvider",
    "KeyUnavailable",
    "MalformedCiphertext",
    "RawAesKeyProvider",
    "TrailingData",
    "TruncatedCiphertext",
    "UnsupportedFormatVersion",
    "decrypt_stream",
    "drill",
    "encrypt_stream",
    "make_context",
    "new_hasher",
    "open_header",
    "read_header",
]
