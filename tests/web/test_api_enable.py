"""The whole enablement through the JSON API: POST /wallet, the stack, the callback, Enabled."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import template_store
from byok.db import session_scope
from byok.models import EnableToken
from byok.settings import Settings
from starter.customer import deploy_stack
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import REGIONS, NewTenant, TenantKey

ENABLE = {"account": TENANT_ACCOUNT, "accept_irretrievable": True, "accept_immutable": True}


async def wait_for_state(client: httpx.AsyncClient, tenant: TenantKey, *states: str,
                         timeout: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        wallet = (await client.get("/api/v1/wallet", headers=tenant.headers)).json()
        if wallet["state"] in states:
            return wallet
        assert asyncio.get_running_loop().time() < deadline, wallet
        await asyncio.sleep(0.2)


async def enable_via_api(client: httpx.AsyncClient, tenant: TenantKey,
                         settings: Settings) -> dict[str, Any]:
    """Enable BYOK for `tenant` through the API, the tenant's side played by deploy_stack."""
    issued = (await client.post("/api/v1/wallet", json=ENABLE, headers=tenant.headers)).json()
    payload = await asyncio.to_thread(deploy_stack, settings, wait=False, account_id=TENANT_ACCOUNT,
                                      token=issued["token"], external_id=issued["external_id"])
    assert (await client.post("/api/v1/wallets/_post-process", json=payload)).status_code == 200
    wallet = await wait_for_state(client, tenant, "Enabled", "Error")
    assert wallet["state"] == "Enabled", wallet
    return wallet


async def test_enable_via_api_to_enabled(client: httpx.AsyncClient, new_tenant: NewTenant,
                                         worker: Any, settings: Settings,
                                         engine: Engine) -> None:
    tenant = await new_tenant()
    resp = await client.post("/api/v1/wallet", json=ENABLE, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    issued = resp.json()
    assert len(issued["token"]) == 36 and issued["external_id"]
    assert issued["service_account_id"] == settings.service_account_id
    assert "VaultToken" in issued["deployment_url"]
    # CloudFormation reads the published S3 object; the web app serves a copy for reading.
    assert issued["template_url"] == template_store.url(settings, 2)
    assert "/byok-vault-templates/templates/byok-v2-" in issued["template_url"]
    copy = await client.get("/api/v1/templates/byok-v2.yaml")
    assert copy.status_code == 200 and "VaultToken" in copy.text
    assert copy.text == template_store.rendered(settings, 2)

    waiting = await wait_for_state(client, tenant, "Waiting")
    assert waiting["token"] is None  # stored hashed: never shown again
    with session_scope(engine) as session:
        row = session.exec(select(EnableToken).where(EnableToken.tenant_id == tenant.id)).one()
        assert row.token_hash != issued["token"] and len(row.token_hash) == 64

    again = await client.post("/api/v1/wallet", json=ENABLE, headers=tenant.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ENABLE_IN_PROGRESS"

    payload = await asyncio.to_thread(deploy_stack, settings, wait=False, account_id=TENANT_ACCOUNT,
                                      token=issued["token"], external_id=issued["external_id"])
    cb = await client.post("/api/v1/wallets/_post-process", json=payload)
    assert cb.json() == {"tenant_id": tenant.id, "accepted": True, "replayed": False}

    wallet = await wait_for_state(client, tenant, "Enabled", "Error")
    assert wallet["state"] == "Enabled", (wallet["error_code"], wallet["error_message"])
    assert sorted(wallet["replica_key_arns"]) == sorted(REGIONS[1:])
    assert sorted(wallet["installed_regions"]) == sorted(REGIONS)
    assert wallet["key_arn"].split("/")[-1].startswith("mrk-")
    assert wallet["workflow_id"] == issued["workflow_id"]
    assert "temporal_ui_url" not in wallet  # the Temporal UI is an operator tool
    steps = [p["step"] for p in wallet["progress"]]
    assert steps[0] == "waiting_for_stack" and steps[-1] == "enabled"

    # Before any check every region of the key shows, not yet checked.
    health = (await client.get("/api/v1/health", headers=tenant.headers)).json()
    assert {r["region"] for r in health["regions"]} == set(REGIONS)
    assert {r["state"] for r in health["regions"]} == {"NotChecked"}
    assert health["checked_at"] is None and health["state"] == "NotChecked"

    refreshed = await client.post("/api/v1/wallet/_refresh", headers=tenant.headers)
    assert refreshed.status_code == 200 and refreshed.json()["state"] == "Enabled"
    fresh = refreshed.json()["health"]
    assert fresh["check"]["checked"] and fresh["state"] == "Healthy" and fresh["checked_at"]
    assert {r["state"] for r in fresh["regions"]} == {"Healthy"}
    by_id = await client.post(f"/api/v1/wallets/{tenant.id}/_refresh", headers=tenant.headers)
    assert by_id.status_code == 200 and by_id.json()["key_arn"] == wallet["key_arn"]
    assert by_id.json()["health"]["checks"] == 2

    verify = (await client.get("/api/v1/audit/_verify", headers=tenant.headers)).json()
    assert verify["ok"] is True
    actions = [e["action"] for e in (await client.get("/api/v1/audit",
                                                      headers=tenant.headers)).json()]
    assert "wallet.token_issued" in actions and actions[-1] == "wallet.enabled"

    twice = await client.post("/api/v1/wallet", json=ENABLE, headers=tenant.headers)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "ALREADY_ENABLED"
    replay = await client.post("/api/v1/wallets/_post-process", json=payload)
    assert replay.status_code == 200 and replay.json()["replayed"] is True
