"""GET /health and _refresh after a replica is disabled: Degraded, only that region paused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
import httpx

from byok.backups import uploads_dir
from byok.settings import Settings
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import NewTenant, TenantKey
from tests.web.test_api_enable import enable_via_api


async def backup_done(client: httpx.AsyncClient, tenant: TenantKey, settings: Settings,
                      region: str,
                      data: bytes, workload: str = "vmware_vm") -> dict[str, Any]:
    """Start a backup through the API (202) and wait until the catalog says it finished."""
    tmp = uploads_dir(settings, tenant.id)  # the only place API file sources may lie
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / f"src-{region}-{len(list(tmp.iterdir()))}"
    src.write_bytes(data)
    resp = await client.post("/api/v1/backups", headers=tenant.headers, json={
        "workload": workload, "source": f"file://{src}", "region": region})
    assert resp.status_code == 202, resp.text
    assert resp.json()["workflow_id"] == f"backup-{resp.json()['backup_id']}"
    for _ in range(300):
        got = await client.get(f"/api/v1/backups/{resp.json()['backup_id']}",
                               headers=tenant.headers)
        row = got.json()  # 404 until the workflow's first step writes the catalog row
        if got.status_code == 200 and row["status"] != "pending":
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"backup still pending: {row}")


async def test_replica_disabled_is_degraded_in_that_region_only(
        client: httpx.AsyncClient, new_tenant: NewTenant, worker: Any, settings: Settings,
        tmp_path: Path) -> None:
    tenant = await new_tenant()
    wallet = await enable_via_api(client, tenant, settings)
    east = await backup_done(client, tenant, settings, "us-east-1", b"e" * 3000)
    await backup_done(client, tenant, settings, "us-east-1", b"r" * 1000, workload="rds")
    west = await backup_done(client, tenant, settings, "eu-west-1", b"w" * 2000)
    assert east["state"] == west["state"] == "ok" and east["key_kind"] == "byok"

    first = (await client.post("/api/v1/wallet/_refresh", headers=tenant.headers)).json()
    assert first["health"]["state"] == "Healthy"

    replica = wallet["replica_key_arns"]["eu-west-1"]
    kms = boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        "kms", region_name="eu-west-1", endpoint_url=settings.aws_endpoint_url)
    kms.disable_key(KeyId=replica.rsplit("/", 1)[1])
    refreshed = await client.post(f"/api/v1/wallets/{tenant.id}/_refresh",
                                  headers=tenant.headers)
    assert refreshed.status_code == 200
    assert refreshed.json()["health"]["check"]["alert_id"]  # a change: one alert

    health = (await client.get("/api/v1/health", headers=tenant.headers)).json()
    assert health["state"] == "Degraded"
    states = {r["region"]: r["state"] for r in health["regions"]}
    assert states == {"us-east-1": "Healthy", "us-west-2": "Healthy",
                      "eu-west-1": "Unavailable"}
    (finding,) = health["findings"]
    assert (finding["code"], finding["region"]) == ("REPLICA_DISABLED", "eu-west-1")
    assert finding["message"] and "enable" in finding["remedy"]
    radius = {(e["region"], e["kind"]): e for e in health["blast_radius"]}
    assert radius[("us-east-1", "current")]["backups"] == 2
    assert radius[("us-east-1", "current")]["by_workload"] == {
        "rds": {"backups": 1, "bytes": 1000}, "vmware_vm": {"backups": 1, "bytes": 3000}}
    assert radius[("eu-west-1", "current")]["bytes"] == 2000
    (alert,) = health["alerts"]
    assert (alert["from"], alert["to"]) == ("Healthy", "Degraded")
    assert "REPLICA_DISABLED" in alert["message"]

    # Only that region is paused: its backups show it, and a new one there is refused up front.
    listed = {b["id"]: b for b in (await client.get("/api/v1/backups",
                                                     headers=tenant.headers)).json()}
    assert listed[west["id"]]["state"] == "paused"
    assert "REPLICA_DISABLED" in listed[west["id"]]["state_reason"]
    assert listed[east["id"]]["state"] == "ok"
    resp = await client.post("/api/v1/backups", headers=tenant.headers, json={
        "workload": "vmware_vm", "source": f"file://{uploads_dir(settings, tenant.id)}/x",
        "region": "eu-west-1"})
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "BACKUPS_PAUSED"
    assert resp.json()["error"]["field"] == "region"

    again = (await client.post("/api/v1/wallet/_refresh", headers=tenant.headers)).json()
    assert again["health"]["check"]["alert_id"] is None  # same finding: no second alert
    assert len(again["health"]["alerts"]) == 1
