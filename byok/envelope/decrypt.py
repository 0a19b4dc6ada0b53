"""Opening envelopes: header authentication, verified streaming decryption and key drills."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass

from byok.envelope.crypto import FrameCipher, check_commitment, derive_keys
from byok.envelope.digest import SHA256, new_hasher
from byok.envelope.errors import (
    ContextMismatch,
    FrameSequenceError,
    MalformedCiphertext,
    TrailingData,
)
from byok.envelope.format import (
    FRAME_FINAL,
    FRAME_HEADER,
    FRAME_REGULAR,
    TAG_LEN,
    Header,
    Reader,
    parse_header,
    read_exact,
)
from byok.envelope.provider import KeyProvider, wipe


def read_header(read: Reader) -> Header:
    """Parse a header without any key: enough to list which key ARN a backup needs.

    Nothing in it is authenticated; use open_header before trusting it.
    """
    return parse_header(read)


def check_context(stored: Mapping[str, str], expected: Mapping[str, str]) -> None:
    if dict(stored) != dict(expected):
        names = stored.keys() | expected.keys()
        keys = sorted(k for k in names if stored.get(k) != expected.get(k))
        raise ContextMismatch(f"encryption context differs from the expected one in: {keys}")


def _open(read: Reader, provider: KeyProvider, expected_context: Mapping[str, str]
          ) -> tuple[Header, FrameCipher]:
    header = parse_header(read)
    # Context first: a mismatch must not cost a KMS call, and it names the likely mistake.
    check_context(header.context, expected_context)
    data_key = provider.unwrap(header.wrapped, header.key_arn, expected_context)
    try:
        enc_key, commitment = derive_keys(data_key, header.message_id, header.prefix)
    finally:
        wipe(data_key)
    check_commitment(commitment, header.commitment)
    cipher = FrameCipher(enc_key)
    cipher.verify_header(header.authenticated, header.tag)
    return header, cipher


def open_header(read: Reader, provider: KeyProvider, expected_context: Mapping[str, str]) -> Header:
    """Parse and fully authenticate a header (context, unwrap, commitment, header tag)."""
    return _open(read, provider, expected_context)[0]


@dataclass(frozen=True)
class DecryptionResult:
    plaintext_size: int
    stored_size: int
    digest: str | None  # hex digest of the plaintext under digest_alg; None when not hashed
    frames: int
    digest_alg: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.digest if self.digest_alg == SHA256 else None


class Decryptor:
    """Open a header on construction; iterating yields plaintext of verified frames only.

    The last plaintext is yielded only after the final frame and the end of the stream
    have been checked, so a consumer that saw the last chunk saw a complete, intact backup.
    """

    def __init__(self, read: Reader, provider: KeyProvider, expected_context: Mapping[str, str],
                 *, digest: str | None = None, frames_done: int = 0) -> None:
        # frames_done: resuming, `read` goes on after the header at frame frames_done + 1
        # (a digest then covers only the frames read here).
        self._read = read
        self._skip = frames_done
        self._hash = new_hasher(digest) if digest else None  # an unknown name fails first
        self._digest_alg = digest
        self.header, self._cipher = _open(read, provider, expected_context)
        self._result: DecryptionResult | None = None

    def __iter__(self) -> Generator[bytes, None, None]:
        read, fs, cipher = self._read, self.header.frame_size, self._cipher
        seq = self._skip
        stored = (len(self.header.prefix) + len(self.header.commitment) + TAG_LEN
                  + seq * (FRAME_HEADER.size + fs + TAG_LEN))
        plain = seq * fs
        while True:
            frame_header = read_exact(read, FRAME_HEADER.size, "frame header")
            number, kind, length = FRAME_HEADER.unpack(frame_header)
            seq += 1
            if number != seq:
                raise FrameSequenceError(f"expected frame {seq}, found frame {number}")
            if not ((kind == FRAME_REGULAR and length == fs)
                    or (kind == FRAME_FINAL and length < fs)):
                raise MalformedCiphertext(f"frame {seq} has an invalid kind or length")
            body = read_exact(read, length + TAG_LEN, "frame")
            plaintext = cipher.open(seq, frame_header, body)
            stored += FRAME_HEADER.size + length + TAG_LEN
            plain += length
            if self._hash is not None:
                self._hash.update(plaintext)
            if kind == FRAME_FINAL:
                if read(1):
                    raise TrailingData("bytes follow the final frame")
                self._result = DecryptionResult(
                    plaintext_size=plain, stored_size=stored, frames=seq,
                    digest=self._hash.hexdigest() if self._hash is not None else None,
                    digest_alg=self._digest_alg)
                if plaintext:
                    yield plaintext
                return
            yield plaintext
            # As in Encryptor.stream: free this frame before allocating the next one.
            del plaintext, body

    @property
    def result(self) -> DecryptionResult:
        if self._result is None:
            raise MalformedCiphertext("result is only known after the final frame was read")
        return self._result


def decrypt_stream(read: Reader, provider: KeyProvider, expected_context: Mapping[str, str]
                   ) -> Iterator[bytes]:
    """Yield the plaintext of each verified frame; raise an EnvelopeError on any problem."""
    yield from Decryptor(read, provider, expected_context)


@dataclass(frozen=True)
class DrillResult:
    key_arn: str
    frame_size: int
    first_frame_bytes: int  # plaintext bytes in frame 1, decrypted and discarded


def drill(read: Reader, provider: KeyProvider, expected_context: Mapping[str, str]) -> DrillResult:
    """Prove the key still opens real data: authenticate the header and decrypt frame 1 only.

    Pass an uncached provider (CachingKeyProvider.without_cache()) so KMS is really asked.
    """
    decryptor = Decryptor(read, provider, expected_context)
    first = next(iter(decryptor), b"")
    return DrillResult(key_arn=decryptor.header.key_arn, frame_size=decryptor.header.frame_size,
                       first_frame_bytes=len(first))
