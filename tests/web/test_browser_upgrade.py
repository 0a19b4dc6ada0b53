"""Chromium: a legacy tenant upgrades, checks key health, restores, sees a pending deletion."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
import httpx
from playwright.async_api import Browser, expect
from sqlalchemy.engine import Engine

from byok.backups import restores_dir
from starter.customer import deploy_stack
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import LiveServer
from tests.web.test_api_health import backup_done
from tests.web.test_api_migrate import legacy_tenant
from tests.web.test_browser import browser, shot, sign_in  # noqa: F401

pytestmark = __import__("pytest").mark.browser


async def test_legacy_tenant_upgrades_then_checks_key_health(
        browser: Browser, live_server: LiveServer, worker: Any,  # noqa: F811
        engine: Engine, tmp_path: Path) -> None:
    settings = live_server.settings
    operator = {"Authorization": f"Bearer {settings.operator_api_key}"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
        legacy, tenant = await legacy_tenant(http, settings, engine, operator)
        old = await backup_done(http, tenant, settings, "us-east-1", b"legacy era" * 400)
    assert old["key_arn"] == legacy.key_arn

    page = await sign_in(browser, live_server, tenant, "upgrade")
    note = page.locator("#upgrade-note")
    await expect(note).to_contain_text("v1 -> v2")
    await shot(page, "upgrade-02-legacy-with-upgrade-note")
    await note.get_by_role("button", name="Upgrade").click()

    update = page.get_by_role("link", name="Update the stack", exact=True)
    await expect(update).to_have_attribute("target", "_blank")
    assert "/stacks/update/template" in (await update.get_attribute("href") or "")
    token = (await page.locator("#v-token").inner_text()).strip()
    external_id = (await page.locator("#v-external").inner_text()).strip()
    assert len(token) == 36 and external_id
    await expect(page.locator(".step.active")).to_contain_text("Waiting for the stack update")
    await expect(page.locator(".step.done")).to_contain_text("Checking your current key")
    await shot(page, "upgrade-03-update-the-stack")

    # The tenant's side, as `byok dev customer-deploy --upgrade` plays it.
    payload = await asyncio.to_thread(deploy_stack, settings, wait=False, account_id=TENANT_ACCOUNT,
                                      token=token, external_id=external_id, upgrade=True)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        resp = await http.post("/api/v1/wallets/_post-process", json=payload)
        assert resp.status_code == 200, resp.text

    # The panel polls to Upgraded, then the page turns into the enabled view by itself.
    keyring = page.locator("table.keyring")
    await expect(keyring).to_contain_text("legacy (decrypt only)", timeout=60_000)
    await expect(keyring).to_contain_text(legacy.key_arn)
    await expect(page.locator("dl.facts")).to_contain_text("mrk-")
    await expect(page.locator("#upgrade-note")).to_have_count(0)
    await shot(page, "upgrade-04-upgraded")

    await page.get_by_role("navigation").get_by_role("link", name="Key health").click()
    await expect(page.locator("#regions")).to_contain_text("Not yet checked")
    await page.get_by_role("button", name="Check now").click()
    await expect(page.locator("#check-result")).to_contain_text("Checked just now",
                                                                timeout=60_000)
    regions = page.locator("#regions")
    await expect(regions).to_contain_text("legacy (decrypt only)")
    await expect(regions.locator(".badge.state-healthy")).to_have_count(4)  # 3 new + legacy
    await expect(page.locator("#blast-radius")).to_contain_text("legacy")
    await expect(page.locator("#blast-radius")).to_contain_text("vmware_vm")
    await shot(page, "upgrade-05-key-health-checked")

    await page.get_by_role("navigation").get_by_role("link", name="Backups").click()
    row = page.locator(f"#backup-{old['id']}")
    await expect(row).to_contain_text("Legacy BYOK")
    await row.get_by_role("link", name="Restore").click()
    restored = restores_dir(settings, tenant.id) / old["id"]  # the tenant's own folder
    await expect(page.get_by_label("Target path")).to_have_value(str(restored))
    await shot(page, "upgrade-06-restore-form")
    await page.get_by_role("button", name="Start restore").click()
    await expect(page.locator("#restore-outcome")).to_contain_text("Restored.", timeout=60_000)
    await shot(page, "upgrade-07-restored")
    assert restored.read_bytes() == b"legacy era" * 400

    # The tenant schedules the legacy key's deletion: the finding says what to do, by when.
    kms = boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        "kms", region_name="us-east-1", endpoint_url=settings.aws_endpoint_url)
    kms.schedule_key_deletion(KeyId=legacy.key_arn.rsplit("/", 1)[1], PendingWindowInDays=7)
    await page.get_by_role("navigation").get_by_role("link", name="Key health").click()
    await page.get_by_role("button", name="Check now").click()
    findings = page.locator("#findings")
    await expect(findings).to_contain_text("KEY_PENDING_DELETION", timeout=60_000)
    await expect(findings).to_contain_text("Scheduled deletion")
    await expect(findings).to_contain_text("cancel the key deletion")
    await expect(page.locator("#alerts")).to_contain_text("KEY_PENDING_DELETION")
    await shot(page, "upgrade-08-legacy-key-pending-deletion")
