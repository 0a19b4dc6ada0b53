"""Audit anchors: every chain's head, sealed with the audit key and written outside the
database (an append-only folder, or the vault bucket under S3 Object Lock), so that a chain
cut back or rewritten as a whole no longer matches what was anchored."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from byok.aws import AwsClients
    from byok.settings import Settings

PREFIX = "audit-anchors/"


class AnchorInvalid(Exception):
    """An anchor whose seal does not verify: forged or edited."""


@dataclass(frozen=True)
class Anchor:
    name: str
    at: str
    heads: dict[str, tuple[int, str]]

    def for_tenant(self, tenant_id: str) -> tuple[int, str, str] | None:
        head = self.heads.get(tenant_id)
        return (head[0], head[1], self.at) if head else None


def _mac(key: bytes, doc: dict[str, Any]) -> str:
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def seal(heads: dict[str, tuple[int, str]], keys: dict[str, bytes], at: datetime) -> bytes:
    key_id, key = next(iter(keys.items()))
    doc: dict[str, Any] = {"at": at.isoformat(), "key_id": key_id,
                           "heads": {t: [seq, h] for t, (seq, h) in sorted(heads.items())}}
    return json.dumps({**doc, "mac": _mac(key, doc)}, indent=1).encode()


def unseal(name: str, data: bytes, keys: dict[str, bytes]) -> Anchor:
    try:
        doc = json.loads(data)
        mac, key_id = doc.pop("mac"), doc["key_id"]
    except (ValueError, KeyError, TypeError):
        raise AnchorInvalid(f"audit anchor {name} is not an anchor document") from None
    key = keys.get(key_id)
    if key is None:
        raise AnchorInvalid(f"audit anchor {name} is sealed with audit key {key_id!r}, "
                            "which BYOK_AUDIT_KEYS does not hold")
    if not hmac.compare_digest(_mac(key, doc), str(mac)):
        raise AnchorInvalid(f"audit anchor {name} was altered after it was sealed")
    return Anchor(name, doc["at"], {t: (int(v[0]), str(v[1])) for t, v in doc["heads"].items()})


def anchor_name(at: datetime) -> str:
    # Sortable by time, so the newest is the last name.
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + ".json"


class AnchorStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def latest(self) -> tuple[str, bytes] | None: ...


class FileAnchors:
    """A folder of write-once, read-only files (the embedded stack)."""

    def __init__(self, root: Path):
        self.root = root

    def put(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        with open(path, "xb") as fh:  # never overwrite an earlier anchor
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        path.chmod(0o444)

    def latest(self) -> tuple[str, bytes] | None:
        names = sorted(p.name for p in self.root.glob("*.json")) if self.root.is_dir() else []
        return (names[-1], (self.root / names[-1]).read_bytes()) if names else None


class S3Anchors:
    """Objects under `audit-anchors/` in the vault bucket; with `lock_days`, each is written
    under S3 Object Lock (compliance mode), which nobody can shorten or delete early."""

    def __init__(self, s3: Any, bucket: str, lock_days: int = 0):
        self.s3, self.bucket, self.lock_days = s3, bucket, lock_days

    def put(self, name: str, data: bytes) -> None:
        extra: dict[str, Any] = {}
        if self.lock_days:
            extra = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate":
                     datetime.now(UTC) + timedelta(days=self.lock_days),
                     "ChecksumAlgorithm": "SHA256"}
        self.s3.put_object(Bucket=self.bucket, Key=PREFIX + name, Body=data,
                           ContentType="application/json", **extra)

    def latest(self) -> tuple[str, bytes] | None:
        newest: str | None = None
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=PREFIX):
            for obj in page.get("Contents", []):
                newest = max(newest or "", obj["Key"])
        if not newest:
            return None
        body = self.s3.get_object(Bucket=self.bucket, Key=newest)["Body"].read()
        return newest.removeprefix(PREFIX), body


def latest_anchor(store: AnchorStore, keys: dict[str, bytes]) -> Anchor | None:
    found = store.latest()
    return unseal(found[0], found[1], keys) if found else None


def anchor_store(settings: Settings, aws: AwsClients | None = None) -> AnchorStore:
    """The vault bucket with the S3 vault (then `aws` is needed), else a folder under home."""
    if settings.vault_backend == "s3":
        if aws is None:
            raise ValueError("the S3 anchor store needs AWS clients")
        return S3Anchors(aws.service("s3"), settings.vault_bucket, settings.audit_anchor_lock_days)
    return FileAnchors(settings.anchor_dir)


def write_anchor(engine: Engine, store: AnchorStore) -> tuple[str, int]:
    """Seal every chain's head now; returns (anchor name, chains anchored)."""
    from byok import audit
    from byok.db import audit_keys, session_scope
    from byok.models import utcnow

    with session_scope(engine) as session:
        heads = audit.heads(session)
    at = utcnow()
    name = anchor_name(at)
    store.put(name, seal(heads, audit_keys(engine), at))
    return name, len(heads)
