"""The connections API with proven connections: pending (token, links, what to do), verified
once the connection stack reported, regions added without a new proof, failed with why."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.engine import Engine

from byok.settings import Settings
from tests.conftest import OTHER_ACCOUNT, TENANT_ACCOUNT
from tests.connect_helpers import prove_connection
from tests.web.conftest import NewTenant

URL = "/api/v1/connections"


async def test_a_request_is_pending_with_everything_to_deploy_the_stack(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings) -> None:
    acme = await new_tenant("acme")
    resp = await client.post(URL, headers=acme.headers,
                             json={"account_id": OTHER_ACCOUNT, "regions": ["us-east-1"]})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["state"] == "pending" and len(body["token"]) == 36
    assert body["role_name"] == f"ByokVaultConnection-{acme.id}"
    assert body["role_arn"] == f"arn:aws:iam::{OTHER_ACCOUNT}:role/{body['role_name']}"
    assert body["external_id"].startswith("byok-")
    assert body["template_url"].endswith(".yaml") and "byok-connection-v1-" in body["template_url"]
    assert "quickcreate" in body["deployment_url"] and "param_ExternalId" in body["deployment_url"]
    assert body["service_account_id"] == settings.service_account_id
    assert "deploy the connection stack" in body["next_step"]
    listed = (await client.get(URL, headers=acme.headers)).json()
    mine = {c["account_id"]: c for c in listed}
    assert mine[OTHER_ACCOUNT]["state"] == "pending"
    assert all(c["token"] is None and c["deployment_url"] is None for c in listed)


async def test_two_tenants_get_their_own_role_and_external_id(
        client: httpx.AsyncClient, new_tenant: NewTenant) -> None:
    acme, globex = await new_tenant("acme"), await new_tenant("globex")
    [a] = (await client.get(URL, headers=acme.headers)).json()
    [g] = (await client.get(URL, headers=globex.headers)).json()
    assert a["account_id"] == g["account_id"] == TENANT_ACCOUNT
    assert a["role_name"] != g["role_name"] and a["external_id"] != g["external_id"]


async def test_verified_after_the_stack_and_regions_added_without_a_new_proof(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine, settings: Settings,
        aws: Any) -> None:
    acme = await new_tenant("acme", regions=["us-east-1"])
    await prove_connection(engine, settings, aws, tenant_id=acme.id, account_id=TENANT_ACCOUNT,
                           regions=["us-east-1"])
    [conn] = (await client.get(URL, headers=acme.headers)).json()
    assert conn["state"] == "verified" and conn["verified_at"] and conn["error_message"] is None
    resp = await client.post(URL, headers=acme.headers,
                             json={"account_id": TENANT_ACCOUNT, "regions": ["eu-west-1"]})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["state"] == "verified" and body["token"] is None
    assert body["regions"] == ["us-east-1", "eu-west-1"]
    assert body["external_id"] == conn["external_id"]


async def test_a_stack_in_the_wrong_account_leaves_it_failed_with_the_reason(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine, settings: Settings,
        aws: Any) -> None:
    acme = await new_tenant("acme", regions=["us-east-1"])
    try:
        await prove_connection(engine, settings, aws, tenant_id=acme.id,
                               account_id=TENANT_ACCOUNT, regions=["us-east-1"],
                               deploy_account=OTHER_ACCOUNT)
    except Exception as exc:  # noqa: BLE001 - the stack rolled back: our FAILED answer
        assert f"issued for account {TENANT_ACCOUNT}" in str(exc)
    else:
        raise AssertionError("a stack in another account was accepted")
    [conn] = (await client.get(URL, headers=acme.headers)).json()
    assert conn["state"] == "failed"
    assert f"the stack runs in account {OTHER_ACCOUNT}" in conn["error_message"]
    assert "connect the account again" in conn["next_step"]
