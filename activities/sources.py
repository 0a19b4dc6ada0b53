"""Backup sources: a file, an S3 prefix, a DynamoDB table or an EBS snapshot, each read as
a stream of byte chunks (multi-object sources as a tar stream, built without buffering)."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from byok.errors import InvalidInput, NotFound
from byok.sources import Source

CHUNK = 1 << 20
Client = Callable[[str], Any]  # service name -> boto3 client in the tenant's account/region


def open_source(source: Source, client: Client, open_file: Callable[[Source], BinaryIO],
                skip: int = 0) -> Iterator[bytes]:
    """Chunks of the source's bytes from byte `skip` (a resumed backup); errors for a missing
    source come before the first chunk. `open_file` opens a file source where it is confined
    (the tenant's uploads); a file seeks, the streamed sources (tar of S3 objects, table
    scans, snapshot blocks) are read from the start and the prefix dropped."""
    if source.kind == "file":
        return _file(open_file(source), skip)
    if source.kind == "s3":
        chunks = _s3(client("s3"), *source.parts)
    elif source.kind == "dynamodb":
        chunks = _dynamodb(client("dynamodb"), source.parts[0])
    elif source.kind == "ebs":
        chunks = _ebs(client("ebs"), source.parts[0])
    else:
        raise InvalidInput(f"unsupported source {source.url!r}", field="source")
    return _skip(chunks, skip) if skip else chunks


CHANGED = "the source is shorter than the part already backed up: it changed between attempts"


def _skip(chunks: Iterator[bytes], skip: int) -> Iterator[bytes]:
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk[skip:] if skip else chunk
        skip = 0
    if skip:
        raise InvalidInput(CHANGED, field="source")


def _file(fh: BinaryIO, skip: int = 0) -> Iterator[bytes]:
    if skip:
        if skip > os.fstat(fh.fileno()).st_size:
            fh.close()
            raise InvalidInput(CHANGED, field="source")
        fh.seek(skip)

    def chunks() -> Iterator[bytes]:
        with fh:
            while block := fh.read(CHUNK):
                yield block
    return chunks()


def _tar_member(name: str, size: int, body: Iterator[bytes]) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.size = size
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    written = 0
    for block in body:
        written += len(block)
        yield block
    if written != size:
        raise InvalidInput(f"{name} changed while it was read ({written} of {size} bytes)")
    if size % tarfile.BLOCKSIZE:
        yield b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)


def _read_all(body: Any) -> Iterator[bytes]:
    while block := body.read(CHUNK):
        yield block


def _tar_end() -> bytes:
    return b"\0" * (tarfile.BLOCKSIZE * 2)


def _s3(s3: Any, bucket: str, prefix: str) -> Iterator[bytes]:
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - 404/403 alike: we cannot read it
        raise NotFound(f"S3 bucket {bucket} does not exist or is not readable",
                       field="source") from None

    def chunks() -> Iterator[bytes]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
                yield from _tar_member(obj["Key"], obj["Size"], _read_all(body))
        yield _tar_end()
    return chunks()


def _dynamodb(ddb: Any, table: str) -> Iterator[bytes]:
    try:
        ddb.describe_table(TableName=table)
    except Exception:  # noqa: BLE001
        raise NotFound(f"DynamoDB table {table} does not exist", field="source") from None

    def chunks() -> Iterator[bytes]:
        # One item per line in DynamoDB's own JSON, so a restore can be re-imported as is.
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            lines = [json.dumps(item, sort_keys=True) for item in page.get("Items", [])]
            if lines:
                yield ("\n".join(lines) + "\n").encode()
    return chunks()


def _ebs(ebs: Any, snapshot_id: str) -> Iterator[bytes]:
    try:
        first = ebs.list_snapshot_blocks(SnapshotId=snapshot_id)
    except Exception:  # noqa: BLE001
        raise NotFound(f"EBS snapshot {snapshot_id} does not exist", field="source") from None

    def chunks() -> Iterator[bytes]:
        page = first
        while True:
            for block in page.get("Blocks", []):
                data = ebs.get_snapshot_block(SnapshotId=snapshot_id,
                                              BlockIndex=block["BlockIndex"],
                                              BlockToken=block["BlockToken"])["BlockData"].read()
                name = f"block-{block['BlockIndex']:010d}"
                yield from _tar_member(name, len(data), iter([data]))
            token = page.get("NextToken")
            if not token:
                break
            page = ebs.list_snapshot_blocks(SnapshotId=snapshot_id, NextToken=token)
        yield _tar_end()
    return chunks()
