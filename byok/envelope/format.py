"""Byte layout of the envelope (docs/FORMAT.md): header and frame (de)serialization, no crypto."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from byok.envelope.errors import MalformedCiphertext, TruncatedCiphertext, UnsupportedFormatVersion

MAGIC = b"BYKV"
VERSION = 1
MESSAGE_ID_LEN = 32
COMMITMENT_LEN = 32
TAG_LEN = 16
DEFAULT_FRAME_SIZE = 1 << 20
# Bounds keep a hostile header from making a reader allocate gigabytes.
MAX_FRAME_SIZE = 1 << 26
MAX_HEADER_LEN = 1 << 18
MAX_SEQ = 0xFFFFFFFF

FRAME_REGULAR = 0
FRAME_FINAL = 1
FRAME_HEADER = struct.Struct(">IBI")  # sequence number, kind, plaintext length
FRAME_OVERHEAD = FRAME_HEADER.size + TAG_LEN
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

BytesLike = bytes | bytearray | memoryview
Reader = Callable[[int], BytesLike]


@dataclass(frozen=True)
class Header:
    """A parsed header; fields are untrusted until stream.open_header has authenticated them."""

    version: int
    message_id: bytes
    frame_size: int
    key_arn: str
    wrapped: bytes
    context: Mapping[str, str]
    commitment: bytes
    tag: bytes
    prefix: bytes  # serialized bytes before the commitment: the key-derivation input

    @property
    def authenticated(self) -> bytes:
        """The bytes the header tag covers (everything before the tag)."""
        return self.prefix + self.commitment

    def to_bytes(self) -> bytes:
        return self.prefix + self.commitment + self.tag


def lp16(data: bytes) -> bytes:
    """A u16 big-endian length followed by the bytes."""
    if len(data) > 0xFFFF:
        raise ValueError("field longer than 65535 bytes")
    return _U16.pack(len(data)) + data


def encode_context(context: Mapping[str, str]) -> bytes:
    """Canonical encoding: entry count, then (key, value) pairs sorted by key bytes."""
    items = []
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise ValueError("encryption context must map non-empty str keys to str values")
        items.append((key.encode(), value.encode()))
    items.sort()
    return _U16.pack(len(items)) + b"".join(lp16(k) + lp16(v) for k, v in items)


def serialize_prefix(
    message_id: bytes, frame_size: int, key_arn: str, wrapped: bytes, context: Mapping[str, str]
) -> bytes:
    """Everything before the commitment; the header length counts commitment and tag too."""
    if len(message_id) != MESSAGE_ID_LEN:
        raise ValueError("message id must be 32 bytes")
    if not 1 <= frame_size <= MAX_FRAME_SIZE:
        raise ValueError(f"frame size must be 1..{MAX_FRAME_SIZE}")
    if not key_arn or not wrapped:
        raise ValueError("key ARN and wrapped key material must be non-empty")
    body = b"".join(
        (message_id, _U32.pack(frame_size), lp16(key_arn.encode()), lp16(wrapped),
         encode_context(context))
    )
    length = len(body) + COMMITMENT_LEN + TAG_LEN
    if length > MAX_HEADER_LEN:
        raise ValueError("header too large")
    return MAGIC + bytes([VERSION]) + _U32.pack(length) + body


def read_exact(read: Reader, n: int, what: str) -> BytesLike:
    """Read exactly n bytes, tolerating short reads; end of stream raises TruncatedCiphertext."""
    data = read(n)
    if len(data) == n:
        return data
    parts = [bytes(data)]
    got = len(data)
    while got < n:
        more = read(n - got)
        if not more:
            raise TruncatedCiphertext(f"ciphertext ends inside the {what}")
        parts.append(bytes(more))
        got += len(more)
    if got != n:
        raise MalformedCiphertext("reader returned more bytes than requested")
    return b"".join(parts)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedCiphertext("header field overruns the header length")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def u16(self) -> int:
        return int(_U16.unpack(self.take(2))[0])

    def text(self) -> str:
        try:
            return self.take(self.u16()).decode()
        except UnicodeDecodeError:
            raise MalformedCiphertext("header text is not UTF-8") from None


def parse_header(read: Reader) -> Header:
    """Parse (not authenticate) a header, consuming exactly its bytes from read."""
    start = bytes(read_exact(read, 5, "header"))
    if start[:4] != MAGIC:
        raise MalformedCiphertext("not a byok-vault envelope (bad magic)")
    if start[4] != VERSION:
        raise UnsupportedFormatVersion(f"envelope format version {start[4]} is not supported")
    length_bytes = bytes(read_exact(read, 4, "header"))
    (length,) = _U32.unpack(length_bytes)
    if not MESSAGE_ID_LEN + 12 + COMMITMENT_LEN + TAG_LEN <= length <= MAX_HEADER_LEN:
        raise MalformedCiphertext("header length out of range")
    body = bytes(read_exact(read, length, "header"))
    cur = _Cursor(body)
    message_id = cur.take(MESSAGE_ID_LEN)
    (frame_size,) = _U32.unpack(cur.take(4))
    if not 1 <= frame_size <= MAX_FRAME_SIZE:
        raise MalformedCiphertext("frame size out of range")
    key_arn = cur.text()
    wrapped = cur.take(cur.u16())
    if not key_arn or not wrapped:
        raise MalformedCiphertext("empty key ARN or wrapped key material")
    context: dict[str, str] = {}
    last = b""
    for _ in range(cur.u16()):
        key_pos = cur.pos
        key = cur.text()
        raw_key = body[key_pos + 2 : cur.pos]
        # Strictly ascending keys make the encoding canonical: one context, one byte string.
        if not raw_key or raw_key <= last:
            raise MalformedCiphertext("encryption context keys are not sorted and unique")
        last = raw_key
        context[key] = cur.text()
    prefix_end = cur.pos
    commitment = cur.take(COMMITMENT_LEN)
    tag = cur.take(TAG_LEN)
    if cur.pos != len(body):
        raise MalformedCiphertext("header length does not match its fields")
    return Header(
        version=VERSION, message_id=message_id, frame_size=frame_size, key_arn=key_arn,
        wrapped=wrapped, context=MappingProxyType(context), commitment=commitment, tag=tag,
        prefix=start + length_bytes + body[:prefix_end],
    )
