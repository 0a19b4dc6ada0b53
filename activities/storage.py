"""Vault storage: a local folder or an S3 bucket. An object becomes visible only when its
writer commits, so a crash mid-write never leaves something that looks complete."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from activities.pipeline import BlockReader, file_blocks, read_ahead
from byok.errors import NotFound

S3_PART = 16 << 20  # multipart parts (S3 needs at least 5 MiB except the last)
# Parts (and ranged GETs) in flight at once: one S3 connection rarely passes ~100 MB/s, so
# throughput comes from parallel requests; memory in flight is S3_PARALLEL x S3_PART.
S3_PARALLEL = 4
READ_BLOCK = 8 << 20  # read-ahead blocks of a full read (restore)
READ_DEPTH = 4


class Writer(Protocol):
    def write(self, data: bytes | bytearray) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class VaultStore(Protocol):
    def writer(self, key: str) -> Writer: ...
    def reader(self, key: str) -> Any: ...  # a binary file-like with read(n)
    # The same bytes for a full sequential read: read ahead on other threads (restores).
    def stream(self, key: str) -> BlockReader: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class FileStore:
    """Objects are files under `root`; written to a .partial file, fsynced, then renamed."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object key {key!r} escapes the vault")
        return path

    def writer(self, key: str) -> _FileWriter:
        return _FileWriter(self._path(key))

    def reader(self, key: str) -> Any:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"backup object {key} is missing from the vault")
        return path.open("rb")

    def stream(self, key: str) -> BlockReader:
        fh = self.reader(key)
        return BlockReader(read_ahead(file_blocks(fh, READ_BLOCK), READ_DEPTH, "vault-read"))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class _FileWriter:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One temp file per writer, opened exclusively: with a shared name, an attempt still
        # running after its retry committed would keep writing into the committed object.
        self.path = path
        self.tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.partial")
        self.fh = self.tmp.open("xb")

    def write(self, data: bytes | bytearray) -> None:
        self.fh.write(data)

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)
        for stale in self.path.parent.glob(f"{self.path.name}.*.partial"):
            stale.unlink(missing_ok=True)  # left by crashed (or still running) earlier attempts
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash
        finally:
            os.close(dir_fd)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class S3Store:
    """Objects in a bucket of the service's account, via multipart upload: nothing is
    visible until CompleteMultipartUpload."""

    def __init__(self, s3: Any, bucket: str):
        self.s3, self.bucket = s3, bucket

    def writer(self, key: str) -> _S3Writer:
        return _S3Writer(self.s3, self.bucket, key)

    def reader(self, key: str) -> Any:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.s3.exceptions.NoSuchKey:
            raise NotFound(f"backup object {key} is missing from the vault") from None

    def stream(self, key: str) -> BlockReader:
        """Ranged GETs of S3_PART, S3_PARALLEL at a time, yielded in order; all of one
        version of the object (If-Match on its ETag), so a rewrite mid-read is refused."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(f"backup object {key} is missing from the vault") from None
            raise
        return BlockReader(_ranges(self.s3, self.bucket, key, head["ContentLength"],
                                   head["ETag"]))

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception:  # noqa: BLE001 - 404 and friends all mean "not there"
            return False

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)


def _ranges(s3: Any, bucket: str, key: str, size: int, etag: str) -> Iterator[bytes]:
    def fetch(start: int) -> bytes:
        end = min(start + S3_PART, size) - 1
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}",
                             IfMatch=etag)["Body"]
        data: bytes = body.read()
        if len(data) != end - start + 1:
            raise NotFound(f"backup object {key} changed or shrank while it was read")
        return data

    starts = iter(range(0, size, S3_PART))
    pool = ThreadPoolExecutor(S3_PARALLEL, thread_name_prefix="s3-get")
    pending: deque[Future[bytes]] = deque()
    try:
        for start in starts:
            pending.append(pool.submit(fetch, start))
            if len(pending) >= S3_PARALLEL:
                break
        while pending:
            block = pending.popleft().result()
            nxt = next(starts, None)
            if nxt is not None:
                pending.append(pool.submit(fetch, nxt))
            yield block
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _S3Writer:
    """Parts upload on a small pool while the caller goes on encrypting; at most
    S3_PARALLEL parts are in flight, so memory stays bounded whatever the object's size."""

    def __init__(self, s3: Any, bucket: str, key: str):
        self.s3, self.bucket, self.key = s3, bucket, key
        self.upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.parts: list[dict[str, Any]] = []
        self.chunks: list[bytes | bytearray] = []
        self.buffered = self.numbered = 0
        self.pool = ThreadPoolExecutor(S3_PARALLEL, thread_name_prefix="s3-part")
        self.pending: deque[Future[dict[str, Any]]] = deque()

    def _upload(self, number: int, body: bytes) -> dict[str, Any]:
        out = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                  PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": out["ETag"]}

    def _flush(self) -> None:
        while len(self.pending) >= S3_PARALLEL:
            self.parts.append(self.pending.popleft().result())  # raises a failed part
        self.numbered += 1
        body = b"".join(self.chunks)
        self.chunks, self.buffered = [], 0
        self.pending.append(self.pool.submit(self._upload, self.numbered, body))

    def drain(self) -> None:
        """Wait for every part in flight (and raise the first that failed)."""
        while self.pending:
            self.parts.append(self.pending.popleft().result())

    def write(self, data: bytes | bytearray) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered >= S3_PART:
            self._flush()

    def commit(self) -> None:
        if self.buffered or not self.numbered:
            self._flush()
        self.drain()
        self.pool.shutdown()
        self.parts.sort(key=lambda p: p["PartNumber"])
        try:
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                              UploadId=self.upload_id,
                                              MultipartUpload={"Parts": self.parts})
        except Exception:
            # Completing a large object can outlast the read timeout; the client's retry
            # then finds the upload gone although the first call succeeded. The object is
            # ours only if its ETag is the one these very parts make.
            if not self._completed():
                raise
        # Uploads of crashed earlier attempts are invisible but billed until aborted.
        listed = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == self.key and upload["UploadId"] != self.upload_id:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                               UploadId=upload["UploadId"])

    def _completed(self) -> bool:
        digests = b"".join(bytes.fromhex(p["ETag"].strip('"')) for p in self.parts)
        expected = f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(self.parts)}"'
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        except Exception:  # noqa: BLE001 - not there (or unreadable): not completed
            return False
        return bool(head.get("ETag") == expected)

    def abort(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        # NoSuchUpload: already completed or aborted, nothing is left to clean up.
        with contextlib.suppress(self.s3.exceptions.NoSuchUpload):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                           UploadId=self.upload_id)
