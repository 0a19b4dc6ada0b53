"""The Encryption Key page in Chromium offers the Terraform path filled in for the tenant,
serves the module it names, and follows a tenant-managed enablement: the regions still
missing a replica, then Enabled with "created by you"."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.engine import Engine

from starter.customer import deploy_replicas, deploy_stack
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import LiveServer
from tests.web.test_browser import browser, shot, sign_in, tenants  # noqa: F401 - fixture

pytestmark = pytest.mark.browser


async def test_terraform_path_filled_in_and_tenant_replicas(
        browser: Browser, live_server: LiveServer, worker: Any,  # noqa: F811
        engine: Engine) -> None:
    (tenant,) = await tenants(live_server, "acme")
    page = await sign_in(browser, live_server, tenant, "terraform")
    await page.get_by_role("link", name="Add Your Own Encryption Key").click()
    await page.get_by_label("AWS account number").fill(TENANT_ACCOUNT)
    await page.get_by_label("permanently irretrievable").check()
    await page.get_by_label("can never be changed").check()
    await page.get_by_role("button", name="Next").click()

    card = page.locator("#terraform-path")
    await expect(card.get_by_role("heading", name="Deploy with Terraform")).to_be_visible()
    token = (await page.locator("#v-token").inner_text()).strip()
    external_id = (await page.locator("#v-external").inner_text()).strip()
    source = (await page.locator("#v-tf-source").inner_text()).strip()
    assert source == f"{live_server.url}/api/v1/terraform/byok-vault.zip"
    snippet = await page.locator("#v-tf-snippet").inner_text()
    settings = live_server.settings
    assert f'external_id        = "{external_id}"' in snippet
    assert f'service_role_arn   = "{settings.service_role_arn}"' in snippet
    assert f'callback_topic_arn = "{settings.callback_topic_arn}"' in snippet
    assert "vault_token        = var.byok_vault_token" in snippet and token not in snippet
    assert f'source = "{source}"' in snippet and "modules/replica" in snippet
    for alias in ("us_west_2", "eu_west_1"):
        assert f"aws.{alias}" in snippet
    assert (await page.locator("#v-tf-token").inner_text()).strip() == token
    await expect(page.locator("#v-tf-apply")).to_contain_text("TF_VAR_byok_vault_token")
    await page.locator("button[data-copy='v-tf-snippet']").click()
    await expect(page.locator("button[data-copy='v-tf-snippet']")).to_have_text("Copied")
    await expect(page.locator("dl.params")).to_contain_text("ReplicaManagement")
    await expect(page.locator("#v-replicas-commands")).to_contain_text("create-stack-instances")
    await shot(page, "terraform-01-three-paths")

    # The module the snippet names is served, replica module included.
    async with httpx.AsyncClient() as http:
        resp = await http.get(source)
    assert resp.status_code == 200
    names = set(zipfile.ZipFile(io.BytesIO(resp.content)).namelist())
    assert {"main.tf", "variables.tf", "notify.yaml", "modules/replica/main.tf"} <= names

    # Tenant-managed replicas: the stack first, then the page names the missing regions.
    payload = await asyncio.to_thread(deploy_stack, settings, wait=False,
                                      account_id=TENANT_ACCOUNT, token=token,
                                      external_id=external_id, replica_management="tenant")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        resp = await http.post("/api/v1/wallets/_post-process", json=payload)
        assert resp.status_code == 200, resp.text
    errors = page.locator("ul.key-errors")
    await expect(errors).to_contain_text("eu-west-1", timeout=60_000)
    await expect(errors).to_contain_text("us-west-2")
    await expect(errors).to_contain_text("byok-v2-replicas.yaml")
    await expect(page.locator(".step.active")).to_contain_text("Checking your replicas")
    await shot(page, "terraform-02-waiting-for-replicas")

    key_arn = f"arn:aws:kms:us-east-1:{TENANT_ACCOUNT}:key/{payload['multi_region_cmk_key_id']}"
    await asyncio.to_thread(deploy_replicas, settings, account_id=TENANT_ACCOUNT,
                            key_arn=key_arn, regions=["us-west-2", "eu-west-1"])
    await expect(page.get_by_text("BYOK is enabled.")).to_be_visible(timeout=90_000)
    await expect(page.locator("#replica-management")).to_contain_text("created by you")
    for region in ("us-west-2", "eu-west-1"):
        await expect(page.locator("table.grid")).to_contain_text(region)
    await shot(page, "terraform-03-enabled-tenant-replicas")
