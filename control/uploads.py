"""Uploads: a tenant's file streamed (never whole in memory) into its uploads folder, under
a generated name, mode 0600; the answer is the `file://` source to back up."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from typing import TypedDict

from sqlalchemy.engine import Engine

from byok import audit, backups
from byok.confine import Spot, open_dir
from byok.db import session_scope
from byok.errors import TooLarge
from byok.settings import Settings
from byok.sources import safe_name


class Uploaded(TypedDict):
    source: str
    name: str
    bytes: int
    sha256: str


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"an upload is at most {limit} bytes (BYOK_UPLOAD_MAX_BYTES)",
                    field="body")


async def receive_upload(engine: Engine, settings: Settings, *, tenant_id: str,
                         name: str | None, chunks: AsyncIterator[bytes], declared: int | None,
                         actor: str) -> Uploaded:
    """Write the chunks to a temporary file (0600) in uploads/<tenant>/ and rename it into
    place only once complete and within the limit; anything refused leaves nothing behind."""
    limit = settings.upload_max_bytes
    if declared is not None and declared > limit:
        raise _too_large(limit)  # refused before a byte is read
    folder = backups.uploads_dir(settings, tenant_id)
    os.close(open_dir(folder.parent, (tenant_id,), shown="uploads", field="body", create=True))
    stored = f"{backups.new_id('up')}-{safe_name(name or 'upload')}"
    tmp = f".{stored}.partial"
    size, digest = 0, hashlib.sha256()
    with Spot(folder.parent, (tenant_id, stored), shown=stored, field="body") as spot:
        try:
            with spot.create(tmp) as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            spot.replace(tmp)
        finally:
            spot.unlink(tmp)
    with session_scope(engine) as session:
        audit.append(session, tenant_id=tenant_id, actor=actor, action="upload.stored",
                     details={"name": stored, "bytes": size, "sha256": digest.hexdigest()},
                     event_key=f"upload.stored/{stored}")
    return {"source": f"file://{folder / stored}", "name": stored, "bytes": size,
            "sha256": digest.hexdigest()}
