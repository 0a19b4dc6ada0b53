"""POST /backups and /restores: 202 and real runs, bad input named, others' backups 404."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import audit
from byok.db import session_scope
from byok.models import Backup
from byok.settings import Settings
from tests.web.conftest import NewTenant, TenantKey
from tests.web.test_api_enable import enable_via_api
from tests.web.test_api_health import backup_done
from tests.web.test_api_scoping import add_backup


async def restore_done(client: httpx.AsyncClient, tenant: TenantKey,
                       restore_id: str) -> dict[str, Any]:
    for _ in range(300):
        got = await client.get(f"/api/v1/restores/{restore_id}", headers=tenant.headers)
        if got.status_code == 200 and got.json()["status"] != "pending":
            return dict(got.json())
        await asyncio.sleep(0.1)
    raise AssertionError("restore still pending")


async def test_backup_then_restore_through_the_api(
        client: httpx.AsyncClient, new_tenant: NewTenant, worker: Any, settings: Settings,
        tmp_path: Path) -> None:
    tenant = await new_tenant()
    await enable_via_api(client, tenant, settings)
    made = await backup_done(client, tenant, settings, "us-west-2", b"restore me" * 300)
    assert made["status"] == "complete" and made["state"] == "ok"

    resp = await client.post("/api/v1/restores", headers=tenant.headers,
                             json={"backup_id": made["id"]})
    assert resp.status_code == 202, resp.text
    started = resp.json()
    root = (settings.home / "restores" / tenant.id).resolve()  # the tenant's own folder
    assert started["target"] == str(root / made["id"])  # the safe default
    assert started["workflow_id"] == f"restore-{started['restore_id']}"
    done = await restore_done(client, tenant, started["restore_id"])
    assert done["status"] == "complete", done
    assert Path(started["target"]).read_bytes() == b"restore me" * 300

    # The target exists now: refused without force (naming the field), replaced with it.
    again = await client.post("/api/v1/restores", headers=tenant.headers,
                              json={"backup_id": made["id"], "target": made["id"]})
    assert again.status_code == 409 and again.json()["error"]["field"] == "target"
    forced = await client.post("/api/v1/restores", headers=tenant.headers,
                               json={"backup_id": made["id"], "target": made["id"],
                                     "force": True})
    assert forced.status_code == 202, forced.text
    assert (await restore_done(client, tenant, forced.json()["restore_id"]))["status"] == \
        "complete"


BAD_BACKUPS = [
    ({"workload": "floppy", "source": "file:///x"}, "workload"),
    ({"workload": "s3", "source": "ftp://bucket/x"}, "source"),
    ({"workload": "ebs", "source": "ebs://snap-1", "region": "mars-1"}, "region"),
    ({"workload": "ebs", "source": "ebs://snap-1", "region": "ap-south-1"}, "region"),
    ({"workload": "ebs"}, "source"),
    ({"workload": "ebs", "source": "ebs://snap-1", "colour": "red"}, "colour"),
    ({"workload": "", "source": "ebs://snap-1"}, "workload"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BACKUPS)
async def test_bad_backup_input_names_the_field(client: httpx.AsyncClient,
                                                new_tenant: NewTenant, engine: Engine,
                                                body: dict[str, Any], field: str) -> None:
    tenant = await new_tenant()
    resp = await client.post("/api/v1/backups", headers=tenant.headers, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field
    with session_scope(engine) as session:  # nothing started, nothing in the catalog
        assert session.exec(select(Backup)).all() == []


async def test_bad_restores_and_another_tenants_backup(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    alice, bob = await new_tenant("alice"), await new_tenant("bob")
    add_backup(engine, alice, "bk-alice")
    add_backup(engine, bob, "bk-bob")
    with session_scope(engine) as session:
        row = Backup(id="bk-running", tenant_id=alice.id, workload="ebs", source="ebs://s",
                     region="us-east-1", key_arn="", key_kind="default", object_key="x")
        session.add(row)

    async def restore(body: dict[str, Any]) -> httpx.Response:
        return await client.post("/api/v1/restores", headers=alice.headers, json=body)

    for target in ("/etc/passwd", "../../outside", "/", "a\x00b"):
        resp = await restore({"backup_id": "bk-alice", "target": target})
        assert resp.status_code == 422, (target, resp.text)
        assert resp.json()["error"]["field"] == "target"
    resp = await restore({"backup_id": "bk-alice", "target": "no/such/folder/x"})
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "target"
    resp = await restore({"backup_id": "bk-running"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "BACKUP_NOT_READY"
    resp = await restore({"target": "x"})
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "backup_id"

    foreign = await restore({"backup_id": "bk-bob"})
    missing = await restore({"backup_id": "bk-nope"})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"].keys() == missing.json()["error"].keys()
    with session_scope(engine) as session:
        denied = [e.details["ref"] for e in audit.history(session, alice.id)
                  if e.action == "access.denied"]
        assert denied == ["bk-bob", "bk-nope"]
    listed = (await client.get("/api/v1/restores", headers=alice.headers)).json()
    assert [r["backup_id"] for r in listed] == ["bk-alice"]  # none was started


async def test_api_file_sources_only_from_the_tenants_uploads(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    tenant = await new_tenant()
    for source, why in (("file:///etc/passwd", "uploads"), ("file:///tmp/../etc/hosts", "..")):
        resp = await client.post("/api/v1/backups", headers=tenant.headers, json={
            "workload": "ec2", "source": source, "region": "us-east-1"})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["field"] == "source"
        assert why in resp.json()["error"]["message"]
