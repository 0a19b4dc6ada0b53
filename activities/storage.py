"""Vault storage: a local folder or an S3 bucket. An object becomes visible only when its
writer commits, so a crash mid-write never leaves something that looks complete."""

from __future__ import annotations

import itertools
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from activities.pipeline import BlockReader, file_blocks, read_ahead
from activities.resume import (
    HEARTBEAT_SECONDS,
    Checkpoint,
    SourceChanged,
    Syncer,
    mapped,
    sync_dir,
    take_over,
)
from activities.s3writer import S3_PARALLEL, S3_PART, S3Writer
from byok.errors import NotFound

READ_BLOCK = 8 << 20  # read-ahead blocks of a full read (restore)
READ_DEPTH = 4


class Writer(Protocol):
    resumed: int  # bytes taken over from an earlier attempt's partial object (0: fresh)
    # Called from the writing thread with the durable length, after each periodic sync.
    on_durable: Callable[[int], object] | None
    def write(self, data: bytes | bytearray) -> None: ...
    def prefix(self) -> Any: ...  # the resumed bytes, readable (read(n)) and hashable
    def restart(self) -> None: ...  # drop the resumed bytes: start from byte zero
    checkpoint_name: str  # the partial object's name a checkpoint names
    interval: float  # seconds between syncs once on_durable is set
    # True: a resume seals the source again from byte zero and the writer checks the bytes
    # it already holds (S3); False: the encryptor goes on after the prefix's frames (file).
    replays: bool
    beat: Callable[[], object]  # called while the writer waits on a slow upload
    def state(self) -> dict[str, Any]: ...  # what a checkpoint adds for this writer
    def commit(self) -> None: ...
    def abort(self, keep: bool = False) -> None: ...


class VaultStore(Protocol):
    def writer(self, key: str, resume: Checkpoint | None = None) -> Writer: ...
    def reader(self, key: str) -> Any: ...  # a binary file-like with read(n)
    # The same bytes for a full sequential read: read ahead on other threads (restores);
    # from byte `start`, after the bytes `head` (a resumed restore: header, then frame k+1).
    def stream(self, key: str, start: int = 0, head: bytes = b"") -> BlockReader: ...
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

    def writer(self, key: str, resume: Checkpoint | None = None) -> _FileWriter:
        return _FileWriter(self._path(key), resume)

    def reader(self, key: str) -> Any:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"backup object {key} is missing from the vault")
        return path.open("rb")

    def stream(self, key: str, start: int = 0, head: bytes = b"") -> BlockReader:
        fh = self.reader(key)
        fh.seek(start)
        blocks = read_ahead(file_blocks(fh, READ_BLOCK), READ_DEPTH, "vault-read")
        return BlockReader(itertools.chain([head], blocks) if head else blocks)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class _FileWriter:
    def __init__(self, path: Path, resume: Checkpoint | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        # One temp file per writer, opened exclusively: with a shared name, an attempt still
        # running after its retry committed would keep writing into the committed object.
        # A resumed attempt renames the checkpoint's partial to its own name.
        self.path = path
        self.tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.partial")
        taken = take_over(path.parent, resume, self.tmp, truncate=False)
        self.resumed = resume.stored if taken is not None and resume is not None else 0
        self.fh = taken or self.tmp.open("xb")
        # Frames the earlier attempt sealed after its checkpoint: this attempt seals them
        # again under the same key and nonces, so they must come out the same (see _check).
        size = os.fstat(self.fh.fileno()).st_size
        self._tail = size - self.resumed
        self._earlier = mapped(self.fh, size) if self._tail > 0 else None
        self.on_durable: Callable[[int], object] | None = None
        self._sync: Syncer | None = None
        self.checkpoint_name = self.tmp.name
        self.interval = HEARTBEAT_SECONDS  # how often write() syncs once on_durable is set
        self.replays = False
        self.beat: Callable[[], object] = lambda: None

    def state(self) -> dict[str, Any]:
        return {}

    def write(self, data: bytes | bytearray) -> None:
        if self._tail > 0:
            self._check(data)
        if self._sync is None:
            if self.on_durable is None:
                self.fh.write(data)
                return
            self._sync = Syncer(self.fh, self.on_durable, self.interval)
        self._sync.write(data)

    def prefix(self) -> Any:
        return mapped(self.fh, self.resumed)

    def restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.resumed = self._tail = 0
        self._drop_earlier()

    def _drop_earlier(self) -> None:
        if self._earlier is not None:
            self._earlier.close()
            self._earlier = None

    def _check(self, data: bytes | bytearray) -> None:
        """A resumed backup whose source changed would seal different plaintext under a
        (key, nonce) the earlier attempt already used and perhaps wrote out; GCM must never
        see that. Compare with the earlier bytes; on a difference drop the partial and fail
        the attempt, so the retry starts a new envelope (new message id, new keys)."""
        assert self._earlier is not None
        pos = self.fh.tell()
        old = self._earlier[pos:pos + min(len(data), self._tail)]  # mapped: no second copy
        self._tail -= len(old) or self._tail
        if not self._tail:
            self._drop_earlier()
        if old != bytes(memoryview(data)[:len(old)]):
            self._drop_earlier()
            self.fh.close()
            self.tmp.unlink(missing_ok=True)
            raise SourceChanged("the source differs from what the last attempt backed up "
                                "past its checkpoint; the backup starts over")

    def commit(self) -> None:
        self._drop_earlier()
        self.fh.flush()
        self.fh.truncate()  # a resumed partial may have held more than this envelope
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)
        for stale in self.path.parent.glob(f"{self.path.name}.*.partial"):
            stale.unlink(missing_ok=True)  # left by crashed (or still running) earlier attempts
        sync_dir(self.path.parent)  # the rename itself must survive a crash

    def abort(self, keep: bool = False) -> None:
        """Drop the partial file; `keep` it for the retry when a checkpoint names it."""
        self._drop_earlier()
        self.fh.close()
        if not (keep and (self.resumed or (self._sync is not None and self._sync.reported))):
            self.tmp.unlink(missing_ok=True)


class S3Store:
    """Objects in a bucket of the service's account, via multipart upload: nothing is
    visible until CompleteMultipartUpload."""

    def __init__(self, s3: Any, bucket: str):
        self.s3, self.bucket = s3, bucket

    def writer(self, key: str, resume: Checkpoint | None = None) -> S3Writer:
        return S3Writer(self.s3, self.bucket, key, resume)

    def reader(self, key: str) -> Any:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.s3.exceptions.NoSuchKey:
            raise NotFound(f"backup object {key} is missing from the vault") from None

    def stream(self, key: str, start: int = 0, head: bytes = b"") -> BlockReader:
        """Ranged GETs of S3_PART, S3_PARALLEL at a time, yielded in order; all of one
        version of the object (If-Match on its ETag), so a rewrite mid-read is refused."""
        try:
            found = self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(f"backup object {key} is missing from the vault") from None
            raise
        blocks = _ranges(self.s3, self.bucket, key, start, found["ContentLength"],
                         found["ETag"])
        return BlockReader(itertools.chain([head], blocks) if head else blocks)

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception:  # noqa: BLE001 - 404 and friends all mean "not there"
            return False

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)


def _ranges(s3: Any, bucket: str, key: str, first: int, size: int, etag: str
            ) -> Iterator[bytes]:
    def fetch(start: int) -> bytes:
        end = min(start + S3_PART, size) - 1
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}",
                             IfMatch=etag)["Body"]
        data: bytes = body.read()
        if len(data) != end - start + 1:
            raise NotFound(f"backup object {key} changed or shrank while it was read")
        return data

    starts = iter(range(first, size, S3_PART))
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
