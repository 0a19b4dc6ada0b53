"""Resuming an envelope's encryption after the frames an earlier attempt stored."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from byok.envelope.decrypt import Decryptor
from byok.envelope.digest import Hasher
from byok.envelope.errors import EnvelopeError
from byok.envelope.format import FRAME_OVERHEAD
from byok.envelope.provider import DataKeyMaterial, KeyProvider, wipe
from byok.envelope.stream import Encryptor


def resume_encryptor(prefix: Any, frames: int, key_arn: str, context: Mapping[str, str],
                     provider: KeyProvider, hasher: Hasher) -> Encryptor | None:
    """An Encryptor that continues the envelope whose first bytes `prefix` (read(n), len,
    closed here) hold its header and exactly `frames` regular frames.

    The prefix is opened like any envelope (context, unwrap, commitment, header tag; each
    frame's tag), its plaintext fed to `hasher`, so the digest covers the whole backup
    without reading the source again; the Encryptor re-derives the same keys from the
    stored message id and wrapped key, so the finished envelope is byte for byte what one
    uninterrupted attempt with that message id would have written. None when the prefix is
    not such an envelope (another key, damaged, a different length): start over."""
    with prefix:
        try:
            dec = Decryptor(prefix.read, provider, context)
            h = dec.header
            if (h.key_arn != key_arn or
                    len(prefix) != len(h.to_bytes()) + frames * (h.frame_size + FRAME_OVERHEAD)):
                return None
            seen = 0
            plaintexts = iter(dec)
            for plain in itertools.islice(plaintexts, frames):
                if len(plain) != h.frame_size:
                    return None
                hasher.update(plain)
                seen += 1
            plaintexts.close()
            if seen != frames:
                return None
        except EnvelopeError:
            return None
    data_key = provider.unwrap(h.wrapped, h.key_arn, context)
    try:
        enc = Encryptor(DataKeyMaterial(data_key, h.wrapped, h.key_arn), context, h.frame_size,
                        digest=None, message_id=h.message_id, frames_done=frames)
    finally:
        wipe(data_key)
    return enc if enc.header() == h.to_bytes() else None
