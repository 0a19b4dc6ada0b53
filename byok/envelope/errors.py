"""Envelope errors: tampering, truncation, wrong key or context; all are ByokErrors.

EnvelopeError                       permanent (retrying the same bytes cannot help)
├── MalformedCiphertext             not a well-formed envelope (bad magic, bad lengths)
│   ├── TruncatedCiphertext         the stream ends early (inside header, frame, or no final frame)
│   └── TrailingData                bytes follow the final frame
├── UnsupportedFormatVersion        a version this code cannot read
├── ContextMismatch                 stored context differs from the caller's expected context
├── KeyUnavailable                  the key provider cannot wrap or unwrap with this key
├── CommitmentMismatch              the data key does not commit to this header (wrong key)
├── HeaderAuthenticationFailed      the header auth tag does not verify
└── FrameAuthenticationFailed       a frame's GCM tag does not verify
    └── FrameSequenceError          a frame is missing, duplicated or out of order

Messages name fields and context keys, never key bytes.
"""

from __future__ import annotations

from byok.errors import ByokError


class EnvelopeError(ByokError):
    code = "ENVELOPE_ERROR"


class MalformedCiphertext(EnvelopeError):
    code = "MALFORMED_CIPHERTEXT"


class TruncatedCiphertext(MalformedCiphertext):
    code = "TRUNCATED_CIPHERTEXT"


class TrailingData(MalformedCiphertext):
    code = "TRAILING_DATA"


class UnsupportedFormatVersion(EnvelopeError):
    code = "UNSUPPORTED_FORMAT_VERSION"


class ContextMismatch(EnvelopeError):
    code = "CONTEXT_MISMATCH"


class KeyUnavailable(EnvelopeError):
    code = "KEY_UNAVAILABLE"


class CommitmentMismatch(EnvelopeError):
    code = "COMMITMENT_MISMATCH"


class HeaderAuthenticationFailed(EnvelopeError):
    code = "HEADER_AUTHENTICATION_FAILED"


class FrameAuthenticationFailed(EnvelopeError):
    code = "FRAME_AUTHENTICATION_FAILED"


class FrameSequenceError(FrameAuthenticationFailed):
    code = "FRAME_SEQUENCE_ERROR"
