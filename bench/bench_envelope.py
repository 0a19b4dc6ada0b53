"""Envelope throughput vs raw AESGCM and the AWS Encryption SDK, and peak memory: one table."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.pipeline import Stage
from byok.envelope import (
    DataKeyMaterial,
    Encryptor,
    RawAesKeyProvider,
    decrypt_stream,
    make_context,
    new_hasher,
)
from byok.envelope.digest import BLAKE3, SHA256
from byok.keycache import CachingKeyProvider, KeyCache

MIB = 1 << 20
ARN = "arn:aws:kms:us-east-1:111122223333:key/mrk-bench"
ESDK_ENC, ESDK_DEC = "encrypt ESDK (commit key, no sig)", "decrypt ESDK (commit key, no sig)"
OURS_SHA_THREAD = "encrypt ours + SHA-256 on a thread"
OURS_B3_THREAD = "encrypt ours + BLAKE3 on a thread"
CTX = make_context(tenant_id="bench", backup_id="b1", workload="EBS", region="us-east-1")


def provider() -> RawAesKeyProvider:
    return RawAesKeyProvider({ARN: bytes(32)})


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def reader(buf: bytes) -> Callable[[int], memoryview]:
    view, pos = memoryview(buf), 0

    def read(n: int) -> memoryview:
        nonlocal pos
        out = view[pos : pos + n]
        pos += len(out)
        return out

    return read


def esdk() -> tuple[Callable[..., bytes], Callable[[bytes, int], int]]:
    # Imported here: the SDK is a dev-only dependency and --no-esdk must work without it.
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import (
        Algorithm,
        CommitmentPolicy,
        EncryptionKeyType,
        WrappingAlgorithm,
    )
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    key = RawMasterKey(provider_id="bench", key_id=b"k1", wrapping_key=WrappingKey(
        wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
        wrapping_key=bytes(32), wrapping_key_type=EncryptionKeyType.SYMMETRIC))
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

    # Streaming with chunk-sized reads is the SDK's fastest path (one-shot is slower here).
    def encrypt(data: bytes, chunk: int, keep: bool = False) -> bytes:
        out = []
        with client.stream(mode="e", source=io.BytesIO(data), key_provider=key, frame_length=chunk,
                           algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY) as s:
            while piece := s.read(chunk):
                if keep:
                    out.append(piece)
        return b"".join(out)

    def decrypt(ct: bytes, chunk: int) -> int:
        n = 0
        with client.stream(mode="d", source=io.BytesIO(ct), key_provider=key) as s:
            while piece := s.read(chunk):
                n += len(piece)
        return n

    return encrypt, decrypt


def throughput(size: int, chunk: int, repeat: int, with_esdk: bool) -> list[tuple[str, float]]:
    data = os.urandom(MIB) * (size // MIB)
    chunks = [memoryview(data)[i : i + chunk] for i in range(0, size, chunk)]
    aead, nonces = AESGCM(os.urandom(32)), [i.to_bytes(12, "big") for i in range(len(chunks))]
    raw_ct = [aead.encrypt(n, c, None) for n, c in zip(nonces, chunks, strict=True)]
    materials = provider().generate(ARN, CTX)

    def ours(digest: str | None) -> None:
        _drain(Encryptor(materials, CTX, chunk, digest=digest).stream(chunks))

    def ours_hash_thread(digest: str) -> None:
        """As VaultActivities does it: the digest on its own thread beside the encryption."""
        hasher = new_hasher(digest)
        hashing: Stage[memoryview] = Stage(hasher.update, 4, "bench-hash")
        enc = Encryptor(materials, CTX, chunk, digest=None)
        for c in chunks:
            hashing.put(c)
            enc.update(c)
        enc.finalize()
        hashing.finish()
        hasher.hexdigest()

    # Every path drops each output chunk as it goes, as a writer to storage would.
    def raw_encrypt(digest: str | None) -> None:
        h = new_hasher(digest) if digest else None
        for n, c in zip(nonces, chunks, strict=True):
            if h is not None:
                h.update(c)
            aead.encrypt(n, c, None)

    def raw_decrypt() -> None:
        for n, c in zip(nonces, raw_ct, strict=True):
            aead.decrypt(n, c, None)

    ct = b"".join(Encryptor(materials, CTX, chunk).stream(chunks))
    rows = [
        ("encrypt raw AESGCM", best(repeat, lambda: raw_encrypt(None))),
        ("encrypt ours", best(repeat, lambda: ours(None))),
        ("encrypt raw AESGCM + SHA-256", best(repeat, lambda: raw_encrypt(SHA256))),
        ("encrypt ours + SHA-256", best(repeat, lambda: ours(SHA256))),
        (OURS_SHA_THREAD, best(repeat, lambda: ours_hash_thread(SHA256))),
        ("encrypt raw AESGCM + BLAKE3", best(repeat, lambda: raw_encrypt(BLAKE3))),
        ("encrypt ours + BLAKE3", best(repeat, lambda: ours(BLAKE3))),
        (OURS_B3_THREAD, best(repeat, lambda: ours_hash_thread(BLAKE3))),
        ("decrypt raw AESGCM", best(repeat, raw_decrypt)),
        ("decrypt ours", best(repeat, lambda: _drain(decrypt_stream(reader(ct), provider(), CTX)))),
    ]
    if with_esdk:
        esdk_encrypt, esdk_decrypt = esdk()
        esdk_ct = esdk_encrypt(data, chunk, keep=True)
        rows.append((ESDK_ENC, best(repeat, lambda: esdk_encrypt(data, chunk))))
        rows.append((ESDK_DEC, best(repeat, lambda: esdk_decrypt(esdk_ct, chunk))))
    return [(name, size / MIB / secs) for name, secs in rows]


def _drain(it: Iterator[object]) -> None:
    for _ in it:
        pass


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(mode: str, size_mib: int, path: str) -> None:
    """Runs in a fresh process so ru_maxrss measures only this backup or restore."""
    block = os.urandom(MIB)
    materials = provider().generate(ARN, CTX)
    # Linux: ru_maxrss survives fork+exec (it would report the parent's 256 MiB), so read
    # VmHWM, after resetting it to the current RSS, which is the baseline.
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    baseline = _status_kib("VmRSS")
    if mode == "backup":
        _drain(Encryptor(materials, CTX).stream(block for _ in range(size_mib)))
    else:
        with open(path, "rb") as f:
            _drain(decrypt_stream(f.read, provider(), CTX))
    peak = _status_kib("VmHWM")
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak}))


def memory(size_mib: int) -> list[tuple[str, float]]:
    with tempfile.NamedTemporaryFile(prefix="byok-bench-") as f:
        enc = Encryptor(provider().generate(ARN, CTX), CTX)
        block = os.urandom(MIB)
        for piece in enc.stream(block for _ in range(size_mib)):
            f.write(piece)
        f.flush()
        rows = []
        for mode in ("backup", "restore"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--size-mib", str(size_mib),
                 "--path", f.name], check=True, capture_output=True, text=True).stdout
            got = json.loads(out)
            rows.append((f"{mode} {size_mib} MiB", (got["peak_kib"] - got["baseline_kib"]) / 1024))
        return rows


def kms_calls(backups: int) -> int:
    class Counting(RawAesKeyProvider):
        calls = 0

        def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
            Counting.calls += 1
            return super().generate(key_arn, context)

    caching = CachingKeyProvider(Counting({ARN: bytes(32)}), KeyCache())
    for i in range(backups):
        ctx = {**CTX, "backup_id": f"b{i}"}
        caching.materials_for_backup("bench", "us-east-1", ARN, f"b{i}", ctx)
    return Counting.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256, help="throughput stream size")
    parser.add_argument("--memory-mib", type=int, default=1024, help="memory test stream size")
    parser.add_argument("--chunk-mib", type=int, default=1, help="chunk = frame size")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--no-esdk", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", choices=["backup", "restore"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size_mib, args.path)
        return
    rates = dict(throughput(args.size_mib * MIB, args.chunk_mib * MIB, args.repeat,
                            not args.no_esdk))
    ref = {"encrypt ours": "encrypt raw AESGCM", "decrypt ours": "decrypt raw AESGCM",
           "encrypt ours + SHA-256": "encrypt raw AESGCM + SHA-256",
           OURS_SHA_THREAD: "encrypt raw AESGCM + SHA-256",
           "encrypt ours + BLAKE3": "encrypt raw AESGCM + BLAKE3",
           OURS_B3_THREAD: "encrypt raw AESGCM + BLAKE3"}
    esdk_ref = {name: ESDK_ENC for name in ref if name.startswith("encrypt ours")}
    esdk_ref["decrypt ours"] = ESDK_DEC
    print(f"{args.size_mib} MiB stream, {args.chunk_mib} MiB chunks = frames, "
          f"best of {args.repeat}")
    print(f"{'path':38} {'MiB/s':>9} {'vs raw (same work)':>19} {'vs ESDK':>8}")
    for name, rate in rates.items():
        vs_raw = f"{rate / rates[ref[name]]:.0%}" if name in ref else ""
        vs_esdk = f"{rate / rates[esdk_ref[name]]:.1f}x" if esdk_ref.get(name) in rates else ""
        print(f"{name:38} {rate:9.0f} {vs_raw:>19} {vs_esdk:>8}")
    if ESDK_ENC in rates:
        best_hashed = max(rates[OURS_B3_THREAD], rates["encrypt ours + BLAKE3"])
        print(f"\nwith the catalog's checksum (new backups: BLAKE3): "
              f"{best_hashed / rates[ESDK_ENC]:.1f}x the ESDK (goal >= 3x); "
              f"with SHA-256 on its own thread: {rates[OURS_SHA_THREAD] / rates[ESDK_ENC]:.1f}x")
    if not args.no_memory:
        print(f"\n{'peak memory above baseline (VmHWM - VmRSS)':44} {'MiB':>6}")
        for name, mib in memory(args.memory_mib):
            print(f"{name:44} {mib:6.1f}")
    print(f"\nKMS GenerateDataKey calls for 10,000 backups of one tenant: {kms_calls(10_000)}")


if __name__ == "__main__":
    main()
