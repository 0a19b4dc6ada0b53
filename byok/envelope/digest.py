"""Plaintext digests the catalog records per backup: SHA-256 (older backups) and BLAKE3."""

from __future__ import annotations

import hashlib
from typing import Protocol

import blake3

from byok.envelope.errors import EnvelopeError

SHA256 = "sha256"
BLAKE3 = "blake3"
# New backups: BLAKE3 hashes about 3.5x faster than SHA-256 here, so the checksum no longer
# caps a transfer at SHA-256's ~1.4 GB/s (docs/FORMAT.md, "Plaintext digest").
DEFAULT_DIGEST = BLAKE3
DIGESTS = (SHA256, BLAKE3)


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...
    def hexdigest(self) -> str: ...


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for one of DIGESTS; anything else is refused by name."""
    if algorithm == SHA256:
        return hashlib.sha256()
    if algorithm == BLAKE3:
        # One thread: the transfer's other stages already use the second core.
        return blake3.blake3(max_threads=1)
    raise EnvelopeError(f"unknown digest algorithm {algorithm!r} (known: {', '.join(DIGESTS)})")
