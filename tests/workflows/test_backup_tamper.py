"""Tampered vault objects through the real RestoreWorkflow: typed error, nothing at the target."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import crud
from byok.db import session_scope
from byok.envelope import read_header
from byok.envelope.format import FRAME_HEADER, TAG_LEN, serialize_prefix
from byok.errors import ByokError
from byok.models import Restore
from byok.settings import Settings
from control.backups import run_backup
from control.restores import run_restore
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS

FRAME = 4096  # small frames so a few KiB make a multi-frame backup
DATA = bytes(range(256)) * 40 + b"tail"  # 10244 bytes: frames of 4096, 4096, then a final 2052


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"frame_size": FRAME})


class Runner:
    def __init__(self, env: Any, engine: Engine, settings: Settings, tmp: Path):
        self.env, self.engine, self.settings, self.tmp = env, engine, settings, tmp

    async def backup(self, tenant: str, data: bytes = DATA, region: str | None = None) -> dict:
        src = self.tmp / f"src-{len(list(self.tmp.iterdir()))}"
        src.write_bytes(data)
        return await run_backup(self.engine, self.settings, lazy(self.env.client), tenant=tenant,
                                workload="ec2", source=f"file://{src}", region=region, actor="test")

    async def restore(self, tenant: str, backup_id: str, target: Path) -> Any:
        return await run_restore(self.engine, self.settings, lazy(self.env.client), tenant=tenant,
                                 backup_id=backup_id, target=str(target), force=False, actor="test")

    def object(self, made: dict) -> Path:
        return self.settings.vault_dir / made["tenant_id"] / f"{made['id']}.byok"

    async def refused(self, tenant: str, made: dict, code: str) -> ByokError:
        """Restore must fail with `code`, leave the folder as it was and record the failure."""
        out_dir = self.tmp / "restores"
        out_dir.mkdir(exist_ok=True)
        before = set(out_dir.iterdir())
        target = out_dir / f"{made['id']}.out"
        with pytest.raises(ByokError) as info:
            await self.restore(tenant, made["id"], target)
        assert info.value.code == code, info.value.message
        assert not target.exists()
        assert set(out_dir.iterdir()) == before  # no temp file left next to the target
        with session_scope(self.engine) as session:
            rows = session.exec(select(Restore).where(Restore.backup_id == made["id"])).all()
            assert [r.status for r in rows] == ["failed"]
            assert code in (rows[0].error or "")
        return info.value


@pytest.fixture
def run(temporal_env: Any, engine: Engine, settings: Settings, worker: Any,
        tmp_path: Path) -> Runner:
    src = tmp_path / "sources"
    src.mkdir()
    return Runner(temporal_env, engine, settings, src)


def frame_offsets(blob: bytes) -> list[int]:
    """Start of each frame in an envelope (after the header)."""
    buf = io.BytesIO(blob)
    read_header(buf.read)
    pos, out = buf.tell(), []
    while pos < len(blob):
        out.append(pos)
        _, _, length = FRAME_HEADER.unpack_from(blob, pos)
        pos += FRAME_HEADER.size + length + TAG_LEN
    return out


def flip_at(pos: Callable[[bytes], int]) -> Callable[[bytes], bytes]:
    def tamper(blob: bytes) -> bytes:
        i = pos(blob)
        return blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1:]
    return tamper


TAMPERS = {
    # offset 20 lies in the message id: the header's key derivation changes.
    "header byte": (flip_at(lambda b: 20), "COMMITMENT_MISMATCH"),
    "frame 1 ciphertext": (flip_at(lambda b: frame_offsets(b)[0] + FRAME_HEADER.size + 100),
                           "FRAME_AUTHENTICATION_FAILED"),
    "final frame ciphertext": (flip_at(lambda b: frame_offsets(b)[-1] + FRAME_HEADER.size + 7),
                               "FRAME_AUTHENTICATION_FAILED"),
    "final frame tag": (flip_at(lambda b: len(b) - 1), "FRAME_AUTHENTICATION_FAILED"),
    "truncated in the last frame": (lambda b: b[:-10], "TRUNCATED_CIPHERTEXT"),
    "truncated at a frame boundary": (lambda b: b[:frame_offsets(b)[-1]],
                                      "TRUNCATED_CIPHERTEXT"),
    "truncated in the header": (lambda b: b[:60], "TRUNCATED_CIPHERTEXT"),
    "bytes appended": (lambda b: b + b"\x00", "TRAILING_DATA"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
async def test_tampered_object_is_refused(run: Runner, tenant: str, name: str) -> None:
    made = await run.backup(tenant)
    tamper, code = TAMPERS[name]
    path = run.object(made)
    assert len(frame_offsets(path.read_bytes())) == 3
    path.write_bytes(tamper(path.read_bytes()))
    await run.refused(tenant, made, code)


async def test_another_tenants_object_is_refused(run: Runner, engine: Engine,
                                                 tenant: str) -> None:
    with session_scope(engine) as session:
        other = crud.create_tenant(session, name="globex")
        request_connection(session, tenant=other, account_id=TENANT_ACCOUNT, regions=REGIONS)
        tenant_b = other.id
    a = await run.backup(tenant, b"tenant A's secrets" * 500)
    b = await run.backup(tenant_b, b"tenant B's data" * 500)
    run.object(b).write_bytes(run.object(a).read_bytes())
    err = await run.refused(tenant_b, b, "CONTEXT_MISMATCH")
    assert "tenant_id" in err.message and "backup_id" in err.message
    # A's own backup is untouched and still restores for A.
    out = run.tmp / "a.out"
    await run.restore(tenant, a["id"], out)
    assert out.read_bytes() == b"tenant A's secrets" * 500


async def test_another_backups_object_is_refused(run: Runner, tenant: str) -> None:
    x = await run.backup(tenant, b"backup X" * 500)
    y = await run.backup(tenant, b"backup Y" * 500)
    run.object(y).write_bytes(run.object(x).read_bytes())
    err = await run.refused(tenant, y, "CONTEXT_MISMATCH")
    assert "backup_id" in err.message and "tenant_id" not in err.message


def rewrite_key_arn(blob: bytes, new_arn: str) -> bytes:
    """A well-formed header naming another key; commitment and tag kept as they were."""
    buf = io.BytesIO(blob)
    h = read_header(buf.read)
    prefix = serialize_prefix(h.message_id, h.frame_size, new_arn, h.wrapped, h.context)
    return prefix + h.commitment + h.tag + blob[buf.tell():]


async def test_header_key_arn_rewritten_to_another_tenant_key(run: Runner, enabled: Any,
                                                              tenant: str) -> None:
    view = await enabled(tenant)
    made = await run.backup(tenant)
    assert made["key_arn"] == view.key_arn
    path = run.object(made)
    original = path.read_bytes()
    # The tenant's replica (same multi-region key material, so KMS itself would unwrap)
    # and the default key of the service: neither may open it.
    for other in (view.replica_key_arns["us-west-2"], view.replica_key_arns["eu-west-1"]):
        path.write_bytes(rewrite_key_arn(original, other))
        assert read_header(io.BytesIO(path.read_bytes()).read).key_arn == other
        err = await run.refused(tenant, made, "KEY_MISMATCH")
        assert made["key_arn"] in err.message and other in err.message
        with session_scope(run.engine) as session:
            for row in session.exec(select(Restore).where(Restore.backup_id == made["id"])):
                session.delete(row)  # refused() expects exactly this attempt's row
    path.write_bytes(original)
    out = run.tmp / "ok.out"
    await run.restore(tenant, made["id"], out)
    assert out.read_bytes() == DATA
