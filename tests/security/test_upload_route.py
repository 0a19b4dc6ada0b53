"""The tenants' legitimate way in for file backups: POST /api/v1/uploads, streamed to disk,
size-limited, per tenant, under a safe generated name, mode 0600; over the limit a 413 and
nothing left behind."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from byok import audit
from byok.backups import uploads_dir
from byok.db import session_scope
from byok.settings import Settings
from tests.web.conftest import NewTenant, TenantKey, create_tenant
from web.app import create_app

LIMIT = 64 * 1024


@pytest.fixture
def app(settings: Settings, engine: Engine, temporal_env: Any) -> FastAPI:
    app = create_app(settings.model_copy(update={"upload_max_bytes": LIMIT}))
    app.state.temporal = temporal_env.client
    return app


async def upload(client: httpx.AsyncClient, tenant: TenantKey, body: Any,
                 name: str | None = None) -> httpx.Response:
    return await client.post("/api/v1/uploads", headers={
        **tenant.headers, "Content-Type": "application/octet-stream"},
        params={"name": name} if name else None, content=body)


def kept(settings: Settings, tenant: TenantKey) -> list[Path]:
    folder = uploads_dir(settings, tenant.id)
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_an_upload_is_stored_0600_under_a_safe_name_and_backs_up(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings,
        engine: Engine, worker: Any) -> None:
    tenant = await new_tenant()
    resp = await upload(client, tenant, b"payroll" * 1000, name="../../etc/.passwd")
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert "/" not in out["name"] and not out["name"].startswith(".")
    assert out["name"].endswith("etc_.passwd") and out["bytes"] == 7000
    [path] = kept(settings, tenant)
    assert out["source"] == f"file://{path}" and path.parent == uploads_dir(settings, tenant.id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with session_scope(engine) as session:
        assert [e.details["name"] for e in audit.history(session, tenant.id)
                if e.action == "upload.stored"] == [out["name"]]
    started = await client.post("/api/v1/backups", headers=tenant.headers, json={
        "workload": "m365", "source": out["source"], "region": "us-east-1"})
    assert started.status_code == 202, started.text
    for _ in range(300):
        row = (await client.get(f"/api/v1/backups/{started.json()['backup_id']}",
                                headers=tenant.headers)).json()
        if row.get("status") == "complete":
            break
        await asyncio.sleep(0.1)
    assert row["status"] == "complete" and row["plaintext_size"] == 7000


async def test_over_the_limit_is_413_and_leaves_nothing(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings) -> None:
    tenant = await new_tenant()
    declared = await upload(client, tenant, b"x" * (LIMIT + 1))  # Content-Length says so
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def stream() -> AsyncIterator[bytes]:  # chunked: no length to refuse up front
        for _ in range(LIMIT // 4096 + 2):
            yield b"y" * 4096
    chunked = await upload(client, tenant, stream())
    assert chunked.status_code == 413, chunked.text
    assert kept(settings, tenant) == []  # no partial file either
    exact = await upload(client, tenant, b"z" * LIMIT)
    assert exact.status_code == 201 and exact.json()["bytes"] == LIMIT


async def test_uploads_are_per_tenant_and_need_a_key(
        client: httpx.AsyncClient, operator: dict[str, str], settings: Settings) -> None:
    alice = await create_tenant(client, operator, "alice")
    bob = await create_tenant(client, operator, "bob")
    mine = (await upload(client, alice, b"alice's")).json()
    resp = await client.post("/api/v1/backups", headers=bob.headers, json={
        "workload": "m365", "source": mine["source"], "region": "us-east-1"})
    assert resp.status_code == 422 and "uploads folder" in resp.json()["error"]["message"]
    anon = await client.post("/api/v1/uploads", content=b"x")
    assert anon.status_code == 401
    assert kept(settings, bob) == []


def test_the_route_is_documented(app: FastAPI) -> None:
    op = app.openapi()["paths"]["/api/v1/uploads"]["post"]
    assert "application/octet-stream" in op["requestBody"]["content"]
    assert {"201", "413"} <= set(op["responses"])
