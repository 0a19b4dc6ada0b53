"""Round trips, chunking independence, results, header listing and drills."""

from __future__ import annotations

import hashlib
import io
import os

import blake3
import pytest

from byok.envelope import (
    DEFAULT_FRAME_SIZE,
    Decryptor,
    Encryptor,
    EnvelopeError,
    drill,
    open_header,
    read_header,
)

from .helpers import ARN_A, context, decrypt, encrypt, raw_provider

FS = 16
SIZES = [0, 1, FS - 1, FS, FS + 1, 2 * FS, 3 * FS + 5, 10 * FS]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int) -> None:
    provider, ctx = raw_provider(), context()
    data = os.urandom(size)
    ct = encrypt(data, provider.generate(ARN_A, ctx), ctx, FS)
    assert decrypt(ct, provider, ctx) == data


def test_round_trip_default_frame_size_multi_frame() -> None:
    provider, ctx = raw_provider(), context()
    data = os.urandom(2 * DEFAULT_FRAME_SIZE + 12345)
    enc = Encryptor(provider.generate(ARN_A, ctx), ctx)
    ct = b"".join(bytes(x) for x in enc.stream([data[:300_000], data[300_000:]]))
    assert decrypt(ct, provider, ctx) == data
    assert enc.result.frames == 3 and enc.result.stored_size == len(ct)


@pytest.mark.parametrize("chunk", [1, 3, FS - 1, FS, FS + 1, 2 * FS, 1000])
def test_chunking_does_not_change_ciphertext(chunk: int) -> None:
    provider, ctx = raw_provider(), context()
    materials = provider.generate(ARN_A, ctx)
    data = os.urandom(5 * FS + 7)
    mid = bytes(32)
    whole = encrypt(data, materials, ctx, FS, message_id=mid)
    assert encrypt(data, materials, ctx, FS, chunk=chunk, message_id=mid) == whole


def test_message_id_makes_every_encryption_distinct() -> None:
    provider, ctx = raw_provider(), context()
    materials = provider.generate(ARN_A, ctx)
    assert encrypt(b"same", materials, ctx) != encrypt(b"same", materials, ctx)


def test_short_reads_are_tolerated() -> None:
    provider, ctx = raw_provider(), context()
    data = os.urandom(4 * FS + 3)
    buf = io.BytesIO(encrypt(data, provider.generate(ARN_A, ctx), ctx, FS))
    out = b"".join(Decryptor(lambda n: buf.read(min(n, 1)), provider, ctx))
    assert out == data


def test_results_report_sizes_and_digest() -> None:
    provider, ctx = raw_provider(), context()
    data = os.urandom(3 * FS + 1)
    enc = Encryptor(provider.generate(ARN_A, ctx), ctx, FS)
    ct = b"".join(bytes(x) for x in enc.stream([data]))
    res = enc.result
    assert (res.plaintext_size, res.stored_size, res.frames) == (len(data), len(ct), 4)
    assert res.sha256 == hashlib.sha256(data).hexdigest() and res.key_arn == ARN_A
    dec = Decryptor(io.BytesIO(ct).read, provider, ctx, digest="sha256")
    assert b"".join(dec) == data
    assert dec.result.sha256 == res.sha256 and dec.result.stored_size == len(ct)


def test_header_lists_key_without_a_key_and_opens_with_one() -> None:
    provider, ctx = raw_provider(), context()
    ct = encrypt(b"x" * 40, provider.generate(ARN_A, ctx), ctx, FS)
    listed = read_header(io.BytesIO(ct).read)
    assert listed.key_arn == ARN_A and dict(listed.context) == ctx and listed.frame_size == FS
    opened = open_header(io.BytesIO(ct).read, provider, ctx)
    assert opened.to_bytes() == ct[: len(opened.to_bytes())]


def test_drill_reads_header_and_first_frame_only() -> None:
    provider, ctx = raw_provider(), context()
    ct = encrypt(os.urandom(10 * FS), provider.generate(ARN_A, ctx), ctx, FS)
    buf = io.BytesIO(ct)
    result = drill(buf.read, provider, ctx)
    header_len = len(read_header(io.BytesIO(ct).read).to_bytes())
    assert result.key_arn == ARN_A and result.first_frame_bytes == FS
    assert buf.tell() == header_len + 9 + FS + 16


def test_update_after_finalize_and_bad_frame_size_are_rejected() -> None:
    provider, ctx = raw_provider(), context()
    materials = provider.generate(ARN_A, ctx)
    enc = Encryptor(materials, ctx, FS)
    enc.finalize()
    with pytest.raises(Exception, match="after finalize"):
        enc.update(b"x")
    for bad in (0, (1 << 26) + 1):
        with pytest.raises(ValueError):
            Encryptor(materials, ctx, bad)


def test_blake3_digest_is_recorded_and_checked_on_the_way_back() -> None:
    provider, ctx = raw_provider(), context()
    data = os.urandom(2 * FS + 5)
    enc = Encryptor(provider.generate(ARN_A, ctx), ctx, FS, digest="blake3")
    ct = b"".join(bytes(x) for x in enc.stream([data]))
    assert enc.result.digest_alg == "blake3" and enc.result.sha256 is None
    assert enc.result.digest == blake3.blake3(data).hexdigest()
    dec = Decryptor(io.BytesIO(ct).read, provider, ctx, digest="blake3")
    assert b"".join(dec) == data and dec.result.digest == enc.result.digest
    # The same ciphertext opened with SHA-256 gives SHA-256: the algorithm is the caller's.
    old = Decryptor(io.BytesIO(ct).read, provider, ctx, digest="sha256")
    b"".join(old)
    assert old.result.sha256 == hashlib.sha256(data).hexdigest()


def test_unknown_digest_algorithm_is_refused_by_name() -> None:
    provider, ctx = raw_provider(), context()
    with pytest.raises(EnvelopeError, match="unknown digest algorithm 'md5'"):
        Encryptor(provider.generate(ARN_A, ctx), ctx, FS, digest="md5")
    ct = encrypt(b"x", provider.generate(ARN_A, ctx), ctx, FS)
    with pytest.raises(EnvelopeError, match="unknown digest algorithm"):
        Decryptor(io.BytesIO(ct).read, provider, ctx, digest="md5")
