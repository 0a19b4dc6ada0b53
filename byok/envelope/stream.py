"""Streaming encryption into the framed envelope format: Encryptor and encrypt_stream."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from byok.envelope.crypto import FrameCipher, derive_keys
from byok.envelope.digest import SHA256, new_hasher
from byok.envelope.errors import EnvelopeError
from byok.envelope.format import (
    DEFAULT_FRAME_SIZE,
    FRAME_FINAL,
    FRAME_OVERHEAD,
    FRAME_REGULAR,
    MESSAGE_ID_LEN,
    VERSION,
    BytesLike,
    serialize_prefix,
)
from byok.envelope.provider import DataKeyMaterial


def make_context(*, tenant_id: str, backup_id: str, workload: str, region: str) -> dict[str, str]:
    """The encryption context every backup carries (docs/FORMAT.md)."""
    return {
        "backup_id": backup_id,
        "format_version": str(VERSION),
        "region": region,
        "tenant_id": tenant_id,
        "workload": workload,
    }


@dataclass(frozen=True)
class EncryptionResult:
    plaintext_size: int
    stored_size: int  # header + all frames: the bytes the caller stored
    digest: str | None  # hex digest of the plaintext under digest_alg; None when not hashed
    frames: int
    key_arn: str
    frame_size: int
    digest_alg: str | None = SHA256

    @property
    def sha256(self) -> str | None:
        return self.digest if self.digest_alg == SHA256 else None


class Encryptor:
    """Encrypt one backup: write header(), then each update() output, then finalize().

    update/finalize return fresh bytearrays the caller owns; each holds whole frames only,
    encrypted straight from the caller's buffer when it is frame-aligned (no copies).
    The Encryptor keeps only the derived key, so the caller may materials.wipe() at once.
    One Encryptor per backup; it is not meant to be shared between threads.
    """

    def __init__(
        self,
        materials: DataKeyMaterial,
        context: Mapping[str, str],
        frame_size: int = DEFAULT_FRAME_SIZE,
        *,
        digest: str | None = SHA256,  # a name from digest.DIGESTS, or None: no digest
        message_id: bytes | None = None,  # fixed for test vectors, and when resuming
        frames_done: int = 0,  # resuming: this many regular frames are already stored
    ) -> None:
        mid = os.urandom(MESSAGE_ID_LEN) if message_id is None else message_id
        prefix = serialize_prefix(mid, frame_size, materials.key_arn, materials.wrapped, context)
        enc_key, commitment = derive_keys(materials.plaintext_key, mid, prefix)
        self._cipher = FrameCipher(enc_key)
        authenticated = prefix + commitment
        self._header = authenticated + self._cipher.header_tag(authenticated)
        self._fs = frame_size
        self._buf = bytearray(frame_size)
        self._view = memoryview(self._buf)
        self._fill = 0
        self._seq = frames_done
        self._hash = new_hasher(digest) if digest else None
        self._digest_alg = digest
        self._plain = frames_done * frame_size
        self._stored = len(self._header) + frames_done * (frame_size + FRAME_OVERHEAD)
        self._key_arn = materials.key_arn
        self._result: EncryptionResult | None = None

    def header(self) -> bytes:
        return self._header

    @property
    def frame_size(self) -> int:
        return self._fs

    def _seal(self, kind: int, plaintext: BytesLike, out: memoryview) -> None:
        self._seq += 1
        self._cipher.seal_into(self._seq, kind, plaintext, out)

    def update(self, data: BytesLike) -> bytearray:
        """Encrypt data; returns every frame completed so far (often empty)."""
        if self._result is not None:
            raise EnvelopeError("update() after finalize()")
        mv = memoryview(data).cast("B")
        n = len(mv)
        if self._hash is not None:
            self._hash.update(mv)
        self._plain += n
        fs, fill = self._fs, self._fill
        frames = (fill + n) // fs
        if not frames:
            self._buf[fill : fill + n] = mv
            self._fill = fill + n
            return bytearray()
        step = fs + FRAME_OVERHEAD
        out = bytearray(frames * step)
        ov = memoryview(out)
        pos = off = 0
        if fill:
            off = fs - fill
            self._buf[fill:] = mv[:off]
            self._seal(FRAME_REGULAR, self._view, ov[:step])
            pos = step
        while pos < len(out):
            self._seal(FRAME_REGULAR, mv[off : off + fs], ov[pos : pos + step])
            off += fs
            pos += step
        rest = n - off
        self._buf[:rest] = mv[off:]
        self._fill = rest
        self._stored += len(out)
        return out

    def finalize(self) -> bytearray:
        """The final frame (shorter than a frame, possibly empty); then `result` is ready."""
        if self._result is not None:
            raise EnvelopeError("finalize() called twice")
        fill = self._fill
        out = bytearray(fill + FRAME_OVERHEAD)
        self._seal(FRAME_FINAL, self._view[:fill], memoryview(out))
        self._buf[:] = bytes(self._fs)  # leave no plaintext behind in our buffer
        self._stored += len(out)
        self._result = EncryptionResult(
            plaintext_size=self._plain,
            stored_size=self._stored,
            digest=self._hash.hexdigest() if self._hash is not None else None,
            frames=self._seq,
            key_arn=self._key_arn,
            frame_size=self._fs,
            digest_alg=self._digest_alg,
        )
        return out

    @property
    def result(self) -> EncryptionResult:
        if self._result is None:
            raise EnvelopeError("result is only known after finalize()")
        return self._result

    def stream(self, chunks: Iterable[BytesLike]) -> Iterator[BytesLike]:
        """Header, then frames as chunks complete, then the final frame; `result` afterwards."""
        yield self._header
        for chunk in chunks:
            out = self.update(chunk)
            if out:
                yield out
            # Drop our reference before the next frame is allocated, so the allocator can
            # reuse this block instead of mapping fresh pages (measured: up to 2x slower).
            del out
        yield self.finalize()


def encrypt_stream(
    chunks: Iterable[BytesLike],
    materials: DataKeyMaterial,
    context: Mapping[str, str],
    frame_size: int = DEFAULT_FRAME_SIZE,
) -> Iterator[BytesLike]:
    """Convenience generator; use Encryptor(...).stream(chunks) to get the result too."""
    return Encryptor(materials, context, frame_size).stream(chunks)
