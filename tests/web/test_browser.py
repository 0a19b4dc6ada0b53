"""The console in Debian's headless Chromium (Playwright): sign in, walk Add Your Own
Encryption Key to Enabled, a bad account rejected inline, another tenant's page refused."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy.engine import Engine

from starter.customer import deploy_stack
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import LiveServer, TenantKey, create_tenant
from tests.web.test_api_scoping import add_backup

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if os.environ.get("BYOK_SKIP_BROWSER") == "1":
        pytest.skip("BYOK_SKIP_BROWSER=1")
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing at /usr/bin/chromium: run `make browser-deps` "
                    "(or set BYOK_SKIP_BROWSER=1 to skip the browser tests)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        await b.close()


async def tenants(live: LiveServer, *names: str) -> list[TenantKey]:
    operator = {"Authorization": f"Bearer {live.settings.operator_api_key}"}
    async with httpx.AsyncClient(base_url=live.url) as http:
        return [await create_tenant(http, operator, n) for n in names]


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def sign_in(browser: Browser, live: LiveServer, tenant: TenantKey, tag: str) -> Page:
    page = await browser.new_page(base_url=live.url, viewport={"width": 1280, "height": 860})
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("API key").fill("bvk_not-a-real-key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#api_key-error")).to_contain_text("unknown or was revoked")
    await shot(page, f"{tag}-01-signin-refused")
    await page.get_by_label("API key").fill(tenant.key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Encryption Key", exact=True)).to_be_visible()
    return page


async def test_add_your_own_key_to_enabled(browser: Browser, live_server: LiveServer,
                                           worker: Any, engine: Engine) -> None:
    (tenant,) = await tenants(live_server, "acme")
    page = await sign_in(browser, live_server, tenant, "enable")
    await shot(page, "enable-02-not-set-up")
    await page.get_by_role("link", name="Add Your Own Encryption Key").click()

    # A bad account number is refused inline, next to the field, keeping what was typed.
    await page.get_by_label("AWS account number").fill("12345678901")
    await page.get_by_label("permanently irretrievable").check()
    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#account-error")).to_contain_text("12 digits")
    await expect(page.get_by_label("AWS account number")).to_have_value("12345678901")
    await expect(page.get_by_label("permanently irretrievable")).to_be_checked()
    await shot(page, "enable-03-bad-account-inline")

    await page.get_by_label("AWS account number").fill(TENANT_ACCOUNT)
    await page.get_by_label("can never be changed").check()
    await page.get_by_role("button", name="Next").click()
    quick = page.get_by_role("link", name="Launch Quick Create Stack Wizard")
    await expect(quick).to_have_attribute("target", "_blank")
    assert "console.aws.amazon.com/cloudformation" in (await quick.get_attribute("href") or "")
    await expect(page.get_by_text("cannot be shown again")).to_be_visible()
    token = (await page.locator("#v-token").inner_text()).strip()
    external_id = (await page.locator("#v-external").inner_text()).strip()
    assert len(token) == 36 and external_id
    await expect(page.locator("#v-account")).to_have_text(live_server.settings.service_account_id)
    for param in ("RoleName", "ExternalId", "VaultToken", "UserMultiRegionCMKKeyId"):
        await expect(page.locator("dl.params")).to_contain_text(param)
    await page.locator("button[data-copy='v-token']").click()
    await expect(page.locator("button[data-copy='v-token']")).to_have_text("Copied")
    await expect(page.locator(".step.active")).to_contain_text("Waiting for the CloudFormation")
    await shot(page, "enable-04-deploy-choices-and-progress")

    # The tenant's side, as `byok dev customer-deploy` plays it: deploy, then the callback.
    payload = await asyncio.to_thread(deploy_stack, live_server.settings, wait=False,
                                      account_id=TENANT_ACCOUNT, token=token,
                                      external_id=external_id)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        resp = await http.post("/api/v1/wallets/_post-process", json=payload)
        assert resp.status_code == 200, resp.text

    # The progress panel polls; once Enabled the page turns into the summary by itself.
    notice = page.get_by_text("BYOK is enabled.")
    await expect(notice).to_be_visible(timeout=60_000)
    await expect(page.get_by_text("All relevant backups are encrypted with your key")
                 ).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text(TENANT_ACCOUNT)
    await expect(page.locator("dl.facts")).to_contain_text("mrk-")
    await expect(page.locator("dl.facts")).to_contain_text("ByokVaultKMSRole")
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        await expect(page.locator("table.grid")).to_contain_text(region)
    await expect(page.get_by_role("button", name="Next")).to_have_count(0)
    await expect(page.get_by_text("Not yet checked").first).to_be_visible()
    await shot(page, "enable-05-enabled")

    # Catalog rows as the backup workflows write them: one before BYOK, one after.
    add_backup(engine, tenant, "bk-before")
    add_backup(engine, tenant, "bk-after", key_kind="byok", workload="rds")
    for nav, name in (("Key health", "06-key-health"), ("Backups", "07-backups"),
                      ("Audit", "08-audit")):
        await page.get_by_role("navigation").get_by_role("link", name=nav, exact=True).click()
        await expect(page.get_by_role("heading", name=nav, exact=True)).to_be_visible()
        await shot(page, f"enable-{name}")
    await page.get_by_role("navigation").get_by_role("link", name="Backups").click()
    await expect(page.locator("table.grid").first).to_contain_text("BYOK")
    await expect(page.locator("table.grid").first).to_contain_text("Default")
    await page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    await expect(page.locator("#chain-status")).to_contain_text("Chain verified")
    await expect(page.locator("table.audit")).to_contain_text("wallet.enabled")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_another_tenants_page_is_refused(browser: Browser,
                                               live_server: LiveServer) -> None:
    alice, bob = await tenants(live_server, "alice", "bob")
    page = await sign_in(browser, live_server, alice, "scoping")
    resp = await page.goto(f"/t/{bob.id}/encryption-key")
    assert resp is not None and resp.status == 404
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    await expect(page.get_by_text("bob")).to_have_count(0)
    await shot(page, "scoping-02-other-tenant-refused")
    await page.get_by_role("navigation").get_by_role("link", name="Audit").click()
    await expect(page.locator("table.audit")).to_contain_text("access.denied")
    await expect(page.locator("table.audit")).to_contain_text(bob.id)
    await shot(page, "scoping-03-attempt-audited")
