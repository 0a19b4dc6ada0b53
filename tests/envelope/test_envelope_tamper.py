"""Every tampering the format must detect: bit flips, truncation, frame surgery, wrong context."""

from __future__ import annotations

import io
from collections.abc import Mapping

import pytest

from byok.envelope import (
    CommitmentMismatch,
    ContextMismatch,
    DataKeyMaterial,
    Decryptor,
    EnvelopeError,
    FrameAuthenticationFailed,
    FrameSequenceError,
    HeaderAuthenticationFailed,
    KeyUnavailable,
    MalformedCiphertext,
    TrailingData,
    TruncatedCiphertext,
    UnsupportedFormatVersion,
    read_header,
)
from byok.envelope.format import lp16
from byok.errors import ByokError

from .helpers import ARN_A, ARN_B, context, decrypt, encrypt, raw_provider

FS = 16
STEP = 9 + FS + 16  # one full frame on the wire


def sample(plaintext: bytes = b"The quick brown fox jumps over the lazy dog"
           ) -> tuple[bytes, int, object, dict[str, str]]:
    provider, ctx = raw_provider(), context()
    ct = encrypt(plaintext, provider.generate(ARN_A, ctx), ctx, FS)
    return ct, len(read_header(io.BytesIO(ct).read).to_bytes()), provider, ctx


def collect(ct: bytes, provider: object, ctx: Mapping[str, str]) -> tuple[list[bytes], Exception]:
    out: list[bytes] = []
    try:
        for piece in Decryptor(io.BytesIO(ct).read, provider, ctx):  # type: ignore[arg-type]
            out.append(piece)
    except EnvelopeError as exc:
        return out, exc
    raise AssertionError("tampered ciphertext decrypted")


def test_every_single_bit_flip_is_rejected() -> None:
    ct, hlen, provider, ctx = sample(b"0123456789abcdefXYZ")  # two frames, one partial
    for i in range(len(ct)):
        for bit in range(8):
            bad = bytearray(ct)
            bad[i] ^= 1 << bit
            out, _ = collect(bytes(bad), provider, ctx)
            # A flip in frame 2 may follow frame 1's verified plaintext, never more.
            assert out in ([], [b"0123456789abcdef"]), (i, bit)
            if i < hlen + STEP:
                assert out == [], (i, bit)


def test_truncation_at_every_byte_is_rejected() -> None:
    ct, _, provider, ctx = sample()
    for n in range(len(ct)):
        with pytest.raises(TruncatedCiphertext):
            decrypt(ct[:n], provider, ctx)


def frames(ct: bytes, hlen: int) -> list[bytes]:
    body = ct[hlen:]
    return [body[i : i + STEP] for i in range(0, len(body), STEP)]


def test_frames_swapped_duplicated_dropped() -> None:
    ct, hlen, provider, ctx = sample()  # 43 bytes: frames 1, 2 regular, 3 final
    f = frames(ct, hlen)
    head = ct[:hlen]
    for bad in ([f[1], f[0], f[2]], [f[0], f[0], f[1], f[2]], [f[0], f[2]], [f[1], f[2]]):
        with pytest.raises(FrameSequenceError):
            decrypt(head + b"".join(bad), provider, ctx)
    with pytest.raises(TruncatedCiphertext):  # final frame dropped
        decrypt(head + f[0] + f[1], provider, ctx)


def test_renumbered_frame_fails_authentication() -> None:
    ct, hlen, provider, ctx = sample()
    f = frames(ct, hlen)
    moved = (1).to_bytes(4, "big") + f[1][4:]  # frame 2 claims to be frame 1
    with pytest.raises(FrameAuthenticationFailed):
        decrypt(ct[:hlen] + moved + f[1] + f[2], provider, ctx)


def test_appended_bytes_are_rejected_before_the_last_plaintext() -> None:
    ct, hlen, provider, ctx = sample()
    for extra in (b"\x00", frames(ct, hlen)[-1]):
        out, exc = collect(ct + extra, provider, ctx)
        assert isinstance(exc, TrailingData)
        assert b"".join(out) == b"The quick brown fox jumps over the lazy dog"[:32]


def test_frames_from_another_backup_do_not_splice() -> None:
    provider, ctx = raw_provider(), context()
    materials = provider.generate(ARN_A, ctx)
    one = encrypt(b"A" * 40, materials, ctx, FS)
    two = encrypt(b"B" * 40, materials, ctx, FS)  # same key, fresh message id
    hlen = len(read_header(io.BytesIO(one).read).to_bytes())
    out, exc = collect(one[:hlen] + two[hlen:], provider, ctx)
    assert out == [] and isinstance(exc, FrameAuthenticationFailed)


def test_no_plaintext_before_its_frame_verifies() -> None:
    ct, hlen, provider, ctx = sample()
    bad = bytearray(ct)
    bad[hlen + STEP - 1] ^= 1  # last tag byte of frame 1
    out, exc = collect(bytes(bad), provider, ctx)
    assert out == [] and isinstance(exc, FrameAuthenticationFailed)
    out, exc = collect(ct[:-1], provider, ctx)  # final frame cut short
    assert isinstance(exc, TruncatedCiphertext) and len(out) == 2


def test_tenant_a_presented_as_tenant_b_and_backup_x_as_y() -> None:
    ct, _, provider, ctx = sample()
    for other in (context(tenant="tenant-b"), context(backup="backup-2"),
                  context(region="eu-west-1"), {**ctx, "extra": "1"}):
        out, exc = collect(ct, provider, other)
        assert out == [] and isinstance(exc, ContextMismatch)
        assert "tenant-a" not in str(exc)  # names keys, not values


def test_header_key_arn_rewritten() -> None:
    ct, _, provider, ctx = sample()
    old, new = lp16(ARN_A.encode()), lp16(ARN_B.encode())
    assert len(old) == len(new)
    out, exc = collect(ct.replace(old, new), provider, ctx)
    assert out == [] and isinstance(exc, KeyUnavailable | HeaderAuthenticationFailed)


def test_wrong_data_key_fails_the_commitment() -> None:
    ct, _, _, ctx = sample()

    class WrongKey:
        def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
            raise NotImplementedError

        def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
            return bytearray(32)

    out, exc = collect(ct, WrongKey(), ctx)
    assert out == [] and isinstance(exc, CommitmentMismatch)


def test_header_tag_and_commitment_flips_have_their_own_errors() -> None:
    ct, hlen, provider, ctx = sample()
    for offset, error in ((hlen - 1, HeaderAuthenticationFailed),
                          (hlen - 17, CommitmentMismatch)):
        bad = bytearray(ct)
        bad[offset] ^= 1
        assert isinstance(collect(bytes(bad), provider, ctx)[1], error)


def test_unknown_version_and_bad_magic() -> None:
    ct, _, provider, ctx = sample()
    with pytest.raises(UnsupportedFormatVersion):
        decrypt(ct[:4] + b"\x02" + ct[5:], provider, ctx)
    with pytest.raises(MalformedCiphertext):
        decrypt(b"PK\x03\x04" + ct[4:], provider, ctx)


def test_errors_are_byok_errors_with_stable_codes() -> None:
    ct, _, provider, ctx = sample()
    _, exc = collect(ct[:10], provider, ctx)
    assert isinstance(exc, ByokError) and exc.code == "TRUNCATED_CIPHERTEXT"
