"""The S3 vault's writer: one multipart upload per object, resumable across attempts.

A checkpoint names the upload and the parts it holds (number, ETag, size) and carries the
envelope header the parts start with. S3 has no way to read back the parts of an
unfinished upload, and a digest's state cannot be saved, so a resumed attempt seals the
source again from byte zero with the same key and nonces and, instead of uploading the
parts it already holds, checks each against its ETag (the MD5 of the part: the vault
bucket uses SSE-S3); only the parts after them are uploaded. A difference means the source
changed: the upload is aborted and the attempt fails (SourceChanged), so the retry starts
a new envelope and GCM never sees one nonce for two plaintexts."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import PurePosixPath
from typing import Any

from activities.resume import HEARTBEAT_SECONDS, Checkpoint, SourceChanged

S3_PART = 16 << 20  # multipart parts (S3 needs at least 5 MiB except the last)
# Parts (and ranged GETs) in flight at once: one S3 connection rarely passes ~100 MB/s, so
# throughput comes from parallel requests; memory in flight is S3_PARALLEL x S3_PART.
S3_PARALLEL = 4

Part = tuple[int, str, int]  # part number, ETag, size


class _Header(io.BytesIO):
    """The resumed envelope's header, as resume_encryptor reads a prefix (read, len)."""

    def __len__(self) -> int:
        return len(self.getbuffer())


class S3Writer:
    """Parts upload on a small pool while the caller goes on encrypting; at most
    S3_PARALLEL parts are in flight, so memory stays bounded whatever the object's size.
    A part ends at a write() boundary (whole frames), so a checkpoint falls on a frame."""

    replays = True  # a resume seals the source again from byte zero (see the module)
    _verify: deque[Part]  # parts the upload holds that the replayed bytes must match
    interval = HEARTBEAT_SECONDS

    def __init__(self, s3: Any, bucket: str, key: str, resume: Checkpoint | None = None):
        self.s3, self.bucket, self.key = s3, bucket, key
        self.checkpoint_name = f"{PurePosixPath(key).name}.multipart.partial"
        self.on_durable: Callable[[int], object] | None = None
        self.beat: Callable[[], object] = lambda: None  # while waiting on a part upload
        self.pool = ThreadPoolExecutor(S3_PARALLEL, thread_name_prefix="s3-part")
        self.head = b""
        self._dropped = False
        taken = self._take_over(resume) if resume is not None else None
        if taken is None:
            self._fresh()
        else:
            assert resume is not None
            self._reset(resume.upload)
            self.head = base64.b64decode(resume.header)
            self._verify = deque(taken)
            self.resumed = sum(p[2] for p in taken)

    def _reset(self, upload_id: str) -> None:
        self.upload_id = upload_id
        self.parts: list[Part] = []  # uploaded and returned, in order
        self.chunks: list[Any] = []
        self.buffered = self.numbered = self.written = 0
        self.pending: deque[Future[Part]] = deque()
        self._verify = deque()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._checked = 0  # bytes of the part being verified seen so far
        self.resumed = 0
        self.reported = False

    def _fresh(self) -> None:
        self._reset(self.s3.create_multipart_upload(Bucket=self.bucket,
                                                    Key=self.key)["UploadId"])

    def _ours(self, upload_id: str) -> bool:
        """Whether `upload_id` is an unfinished upload of exactly this object key."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.key}
        while True:
            page = self.s3.list_multipart_uploads(**kwargs)
            if any(u["Key"] == self.key and u["UploadId"] == upload_id
                   for u in page.get("Uploads", [])):
                return True
            if not page.get("IsTruncated"):
                return False
            kwargs.update(KeyMarker=page["NextKeyMarker"],
                          UploadIdMarker=page["NextUploadIdMarker"])

    def _listed(self, upload_id: str) -> list[Part]:
        parts: list[Part] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key,
                                  "UploadId": upload_id}
        while True:
            page = self.s3.list_parts(**kwargs)
            parts += [(p["PartNumber"], p["ETag"], p["Size"]) for p in page.get("Parts", [])]
            if not page.get("IsTruncated"):
                return parts
            kwargs["PartNumberMarker"] = page["NextPartNumberMarker"]

    def _take_over(self, cp: Checkpoint) -> list[Part] | None:
        """The parts to verify and keep, re-validated against S3: the checkpoint's upload
        is one of this key's, and ListParts holds its parts (numbers, ETags, sizes) first;
        the parts an attempt uploaded after its checkpoint count too (they are verified
        the same way). None: start over (a stale upload of this key is aborted)."""
        if not (cp.upload and cp.parts and cp.header):
            return None
        numbered = [p[0] for p in cp.parts] == list(range(1, len(cp.parts) + 1))
        try:
            header_ok = bool(base64.b64decode(cp.header, validate=True))
        except ValueError:
            header_ok = False
        if not (numbered and header_ok and sum(p[2] for p in cp.parts) == cp.stored):
            return None
        if not self._ours(cp.upload):
            return None  # another object's upload, gone or never ours: never touched
        try:
            listed = self._listed(cp.upload)
        except self.s3.exceptions.NoSuchUpload:
            return None  # completed or aborted since
        if listed[:len(cp.parts)] != list(cp.parts):
            self._abort(cp.upload)  # damaged or not what the checkpoint says
            return None
        kept = list(cp.parts)
        for part in listed[len(cp.parts):]:
            if part[0] != len(kept) + 1:
                break
            kept.append(part)
        return kept

    def prefix(self) -> Any:
        return _Header(self.head)

    def restart(self) -> None:
        """Drop the resumed upload (its header did not open): a new upload from byte 0."""
        self._abort(self.upload_id)
        self._fresh()
        self.head = b""

    def state(self) -> dict[str, Any]:
        """What a checkpoint adds for this writer (no key material: the header holds the
        data key only in its KMS-wrapped form, as the object itself does)."""
        # The kept parts still to check are the upload's too: a crash before the replay
        # passed them resumes from them again.
        return {"upload": self.upload_id, "parts": (*self.parts, *self._verify),
                "header": base64.b64encode(self.head).decode()}

    def _upload(self, number: int, body: bytes) -> Part:
        out = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                  PartNumber=number, Body=body)
        return (number, out["ETag"], len(body))

    def _wait(self, future: Future[Part]) -> None:
        """One part's upload returned: only then it counts (and may be checkpointed)."""
        while True:
            try:
                part = future.result(timeout=max(self.interval, 0.1))  # raises a failed part
                break
            except FutureTimeout:
                self.beat()
        self.parts.append(part)
        if self.on_durable is not None:
            self.on_durable(sum(p[2] for p in self.parts))
            self.reported = True

    def _flush(self) -> None:
        while len(self.pending) >= S3_PARALLEL:
            self._wait(self.pending.popleft())
        self.numbered += 1
        body = b"".join(self.chunks)
        self.chunks, self.buffered = [], 0
        self.pending.append(self.pool.submit(self._upload, self.numbered, body))

    def drain(self) -> None:
        """Wait for every part in flight (and raise the first that failed)."""
        while self.pending:
            self._wait(self.pending.popleft())

    def write(self, data: bytes | bytearray) -> None:
        if not self.written and not self.resumed:
            self.head = bytes(data)  # the envelope header: its first write
        self.written += len(data)
        view = memoryview(data)
        while self._verify and len(view):
            view = self._check(view)
        if not len(view):
            return
        self.chunks.append(view if len(view) < len(data) else data)
        self.buffered += len(view)
        while self.pending and self.pending[0].done():
            self._wait(self.pending.popleft())  # checkpoint a part as soon as it returned
        if self.buffered >= S3_PART:
            self._flush()

    def _check(self, view: memoryview) -> memoryview:
        """Feed the bytes of the first part still to verify; a finished part must be the
        one S3 holds (its ETag is the MD5 of its bytes) or the source changed."""
        number, etag, size = self._verify[0]
        take = min(len(view), size - self._checked)
        self._md5.update(view[:take])
        self._checked += take
        if self._checked == size:
            if f'"{self._md5.hexdigest()}"' != etag:
                self._changed()
            self._verify.popleft()
            self.parts.append((number, etag, size))
            self.numbered = number
            self._md5 = hashlib.md5(usedforsecurity=False)
            self._checked = 0
        return view[take:]

    def _changed(self) -> None:
        self._dropped = True
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._abort(self.upload_id)
        raise SourceChanged("the source differs from what the last attempt backed up; "
                            "the backup starts over")

    def commit(self) -> None:
        if self._verify:
            self._changed()  # the source ended before the parts the upload holds
        if self.buffered or not self.numbered:
            self._flush()
        self.drain()
        self.pool.shutdown()
        parts = [{"PartNumber": n, "ETag": etag} for n, etag, _ in self.parts]
        try:
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                              UploadId=self.upload_id,
                                              MultipartUpload={"Parts": parts})
        except Exception:
            # Completing a large object can outlast the read timeout; the client's retry
            # then finds the upload gone although the first call succeeded. The object is
            # ours only if its ETag is the one these very parts make.
            if not self._completed():
                raise
        # Uploads of crashed earlier attempts are invisible but billed until aborted. The
        # object is committed, so no retry of this backup will take one over any more.
        listed = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == self.key and upload["UploadId"] != self.upload_id:
                self._abort(upload["UploadId"])

    def _completed(self) -> bool:
        digests = b"".join(bytes.fromhex(p[1].strip('"')) for p in self.parts)
        expected = f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(self.parts)}"'
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        except Exception:  # noqa: BLE001 - not there (or unreadable): not completed
            return False
        return bool(head.get("ETag") == expected)

    def _abort(self, upload_id: str) -> None:
        # NoSuchUpload: already completed or aborted, nothing is left to clean up.
        with contextlib.suppress(self.s3.exceptions.NoSuchUpload):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                           UploadId=upload_id)

    def abort(self, keep: bool = False) -> None:
        """Abort the upload; `keep` it for the retry when a checkpoint names it."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._dropped or not (keep and (self.resumed or self.reported)):
            self._abort(self.upload_id)
