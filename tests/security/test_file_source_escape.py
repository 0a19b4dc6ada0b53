"""Attack: back up a file of the server's (/etc/passwd) through the tenant API, by a URL that
one parser confines to the tenant's uploads and another opens elsewhere, by a link swapped in
after the check, or by a FIFO that would hang the worker."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from byok.backups import uploads_dir
from byok.errors import InvalidInput
from byok.settings import Settings
from control.catalog import backup_view
from tests.web.conftest import NewTenant, TenantKey
from tests.web.test_api_health import backup_done
from worker import build_worker

PASSWD = Path("/etc/passwd")


async def post_backup(client: httpx.AsyncClient, tenant: TenantKey, source: str) -> Any:
    return await client.post("/api/v1/backups", headers=tenant.headers, json={
        "workload": "vmware_vm", "source": source, "region": "us-east-1"})


@pytest.mark.parametrize("mark", ["#", "?"])
async def test_a_fragment_or_query_cannot_smuggle_a_server_file(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings, worker: Any,
        engine: Engine, mark: str) -> None:
    tenant = await new_tenant()
    folder = uploads_dir(settings, tenant.id)
    folder.mkdir(parents=True)
    (folder / "x").write_bytes(b"mine")
    # The check reads a path ending in uploads/<tenant>/x; urlparse opens /etc/passwd.
    source = f"file://{PASSWD}{mark}/../../..{folder}/x"
    resp = await post_backup(client, tenant, source)
    if resp.status_code == 202:  # the attack got through: show what the backup holds
        bid = resp.json()["backup_id"]
        for _ in range(300):
            row = (await client.get(f"/api/v1/backups/{bid}", headers=tenant.headers)).json()
            if row.get("status") not in (None, "pending"):
                break
            await asyncio.sleep(0.1)
        view = backup_view(engine, tenant.id, bid)
        pytest.fail(f"accepted; backup {view['status']} with {view['plaintext_size']} bytes "
                    f"(/etc/passwd has {PASSWD.stat().st_size})")
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == "source" and ("query" in error["message"]
                                           or "fragment" in error["message"])


@pytest.mark.parametrize(("tail", "why"), [
    ("%2e%2e/%2e%2e/etc/passwd", "percent-encoding"),
    ("sub/../../../etc/passwd", "'..'"),
    ("./x", "'.'"),
])
async def test_encoded_and_dotted_paths_are_refused_by_name(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings,
        tail: str, why: str) -> None:
    tenant = await new_tenant()
    folder = uploads_dir(settings, tenant.id)
    (folder / "sub").mkdir(parents=True)
    (folder / "x").write_bytes(b"mine")
    resp = await post_backup(client, tenant, f"file://{folder}/{tail}")
    assert resp.status_code == 422, resp.text
    assert why in resp.json()["error"]["message"]


async def test_a_link_in_the_uploads_is_refused(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings) -> None:
    tenant = await new_tenant()
    folder = uploads_dir(settings, tenant.id)
    folder.mkdir(parents=True)
    (folder / "passwd").symlink_to(PASSWD)
    (folder / "etc").symlink_to("/etc")
    for name in ("passwd", "etc/passwd"):
        resp = await post_backup(client, tenant, f"file://{folder}/{name}")
        assert resp.status_code == 422, resp.text
        assert "symbolic link" in resp.json()["error"]["message"]


async def test_a_fifo_is_refused_before_it_is_opened(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings) -> None:
    tenant = await new_tenant()
    folder = uploads_dir(settings, tenant.id)
    folder.mkdir(parents=True)
    os.mkfifo(folder / "pipe")
    resp = await post_backup(client, tenant, f"file://{folder}/pipe")
    assert resp.status_code == 422, resp.text
    assert "a FIFO, not a regular file" in resp.json()["error"]["message"]


async def test_a_link_swapped_in_after_the_check_is_not_followed_by_the_worker(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings, engine: Engine,
        temporal_env: Any, aws: Any) -> None:
    """Accepted while the upload is a plain file; before the worker reads it, it becomes a
    link to /etc/passwd. The worker opens without following links: the backup fails."""
    tenant = await new_tenant()
    folder = uploads_dir(settings, tenant.id)
    folder.mkdir(parents=True)
    (folder / "x").write_bytes(b"an innocent upload")
    resp = await post_backup(client, tenant, f"file://{folder}/x")
    assert resp.status_code == 202, resp.text
    bid = resp.json()["backup_id"]
    (folder / "x").unlink()
    (folder / "x").symlink_to(PASSWD)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(temporal_env.client, settings, engine, aws, executor):
            for _ in range(300):
                got = await client.get(f"/api/v1/backups/{bid}", headers=tenant.headers)
                if got.status_code == 200 and got.json()["status"] != "pending":
                    break
                await asyncio.sleep(0.1)
    view = backup_view(engine, tenant.id, bid)
    assert view["status"] == "failed", view
    assert "symbolic link" in view["error"] and view["plaintext_size"] == 0


async def test_the_tenants_own_upload_still_backs_up(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings,
        worker: Any) -> None:
    tenant = await new_tenant()
    made = await backup_done(client, tenant, settings, "us-east-1", b"my data" * 100)
    assert made["status"] == "complete" and made["plaintext_size"] == 700


@pytest.mark.parametrize("text", [
    "file:///etc/passwd#x", "file:///etc/passwd?x", "file://host/etc/passwd",
    "file:///a//b", "file:///a/./b", "file:///a/../b", "file:///a/%2e%2e/b", "file:///a\\b",
    "file:///a/b\x00", "file:///a/b\n", "file://", "file:///", "/etc/passwd", "ftp://x/y",
    "s3://Bad_Bucket/x", "s3://bucket/x#y", "dynamodb://a/b", "ebs://snap-1/../x",
])
def test_the_parser_refuses_what_another_parser_could_read_differently(text: str) -> None:
    from byok.sources import parse_source

    with pytest.raises(InvalidInput) as info:
        parse_source(text)
    assert info.value.field == "source" and info.value.message.startswith("not a usable")


def test_the_parser_keeps_what_it_accepts() -> None:
    from byok.sources import parse_source

    assert parse_source("file:///srv/up/t/a b.bin").parts == ("srv", "up", "t", "a b.bin")
    assert parse_source("s3://acme-data/mail/").parts == ("acme-data", "mail/")
    assert parse_source("dynamodb://orders").url == "dynamodb://orders"
    assert parse_source("file:///srv/x").url == "file:///srv/x"
