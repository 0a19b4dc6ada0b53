"""Vault storage: a local folder or an S3 bucket. An object becomes visible only when its
writer commits, so a crash mid-write never leaves something that looks complete."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Protocol

from byok.errors import NotFound

S3_PART = 8 << 20  # multipart parts (S3 needs at least 5 MiB except the last)


class Writer(Protocol):
    def write(self, data: bytes | bytearray) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class VaultStore(Protocol):
    def writer(self, key: str) -> Writer: ...
    def reader(self, key: str) -> Any: ...  # a binary file-like with read(n)
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

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception:  # noqa: BLE001 - 404 and friends all mean "not there"
            return False

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)


class _S3Writer:
    def __init__(self, s3: Any, bucket: str, key: str):
        self.s3, self.bucket, self.key = s3, bucket, key
        self.upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.parts: list[dict[str, Any]] = []
        self.buf = bytearray()

    def _flush(self) -> None:
        n = len(self.parts) + 1
        out = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                  PartNumber=n, Body=bytes(self.buf))
        self.parts.append({"PartNumber": n, "ETag": out["ETag"]})
        self.buf.clear()

    def write(self, data: bytes | bytearray) -> None:
        self.buf += data
        if len(self.buf) >= S3_PART:
            self._flush()

    def commit(self) -> None:
        if self.buf or not self.parts:
            self._flush()
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                          UploadId=self.upload_id,
                                          MultipartUpload={"Parts": self.parts})
        # Uploads of crashed earlier attempts are invisible but billed until aborted.
        listed = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=self.key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == self.key and upload["UploadId"] != self.upload_id:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                               UploadId=upload["UploadId"])

    def abort(self) -> None:
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
