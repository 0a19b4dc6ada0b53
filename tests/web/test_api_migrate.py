"""POST /wallet/_migrate: a legacy tenant upgrades; refused while its legacy key is unwell."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy.engine import Engine

from byok.settings import Settings
from starter.customer import deploy_stack
from starter.legacy import LegacyTenant, create_legacy_tenant
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import REGIONS, NewTenant, TenantKey


async def legacy_tenant(http: httpx.AsyncClient, settings: Settings, engine: Engine,
                        operator: dict[str, str], name: str = "oldco",
                        ) -> tuple[LegacyTenant, TenantKey]:
    """A template v1 tenant, as in the field, with an API key from the operator API."""
    legacy = await asyncio.to_thread(create_legacy_tenant, settings, engine, name=name,
                                     account_id=TENANT_ACCOUNT, regions=REGIONS)
    resp = await http.post(f"/api/v1/tenants/{legacy.tenant_id}/api-keys", headers=operator,
                           json={"name": "tests"})
    assert resp.status_code == 201, resp.text
    return legacy, TenantKey(legacy.tenant_id, resp.json()["key"], resp.json()["id"])


async def upgraded(client: httpx.AsyncClient, tenant: TenantKey) -> dict[str, Any]:
    for _ in range(600):
        wallet = (await client.get("/api/v1/wallet", headers=tenant.headers)).json()
        steps = [p["step"] for p in wallet["progress"]]
        if wallet["stack_version"] == 2 or "migration:failed" in steps:
            return dict(wallet)
        await asyncio.sleep(0.1)
    raise AssertionError(f"migration did not finish: {wallet}")


async def test_legacy_tenant_migrates_through_the_api(
        client: httpx.AsyncClient, worker: Any, settings: Settings, engine: Engine,
        operator: dict[str, str]) -> None:
    legacy, tenant = await legacy_tenant(client, settings, engine, operator)
    before = (await client.get("/api/v1/wallet", headers=tenant.headers)).json()
    assert before["upgrade_available"] and "v1 -> v2" in before["upgrade"]

    resp = await client.post("/api/v1/wallet/_migrate", headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    bundle = resp.json()
    assert bundle["migrated"] and len(bundle["token"]) == 36 and bundle["external_id"]
    assert "/stacks/update/template" in bundle["deployment_url"]
    assert "/byok-vault-templates/templates/byok-v2-" in bundle["template_url"]
    busy = await client.post("/api/v1/wallet/_migrate", headers=tenant.headers)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "MIGRATION_IN_PROGRESS"

    payload = await asyncio.to_thread(deploy_stack, settings, wait=False, account_id=TENANT_ACCOUNT,
                                      token=bundle["token"], external_id=bundle["external_id"],
                                      upgrade=True)
    cb = await client.post("/api/v1/wallets/_post-process", json=payload)
    assert cb.status_code == 200, cb.text
    wallet = await upgraded(client, tenant)
    assert wallet["stack_version"] == 2 and not wallet["upgrade_available"]
    assert wallet["key_arn"] != legacy.key_arn and "mrk-" in wallet["key_arn"]
    keys = {k["kind"]: k["key_arn"] for k in wallet["health"]["keys"]}
    assert keys == {"current": wallet["key_arn"], "legacy": legacy.key_arn}

    again = await client.post("/api/v1/wallet/_migrate", headers=tenant.headers)
    assert again.status_code == 200 and again.json()["migrated"] is False


async def test_migration_refused_while_the_legacy_key_is_pending_deletion(
        client: httpx.AsyncClient, worker: Any, settings: Settings, engine: Engine,
        operator: dict[str, str]) -> None:
    legacy, tenant = await legacy_tenant(client, settings, engine, operator)
    kms = boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        "kms", region_name="us-east-1", endpoint_url=settings.aws_endpoint_url)
    kms.schedule_key_deletion(KeyId=legacy.key_arn.rsplit("/", 1)[1], PendingWindowInDays=7)
    resp = await client.post("/api/v1/wallet/_migrate", headers=tenant.headers)
    assert resp.status_code == 409, resp.text
    error = resp.json()["error"]
    assert error["code"] == "KEY_PENDING_DELETION" and "cancel the deletion" in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/wallet/_migrate"])
async def test_migrate_without_byok_names_the_problem(client: httpx.AsyncClient,
                                                      new_tenant: NewTenant, path: str) -> None:
    tenant = await new_tenant()
    resp = await client.post(path, headers=tenant.headers)
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "tenant"
    assert (await client.post(path)).status_code == 401
