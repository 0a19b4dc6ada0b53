"""No token, ExternalId or API key in any log line of a whole enablement over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from starter.customer import deploy_stack
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import LiveServer, create_tenant

# Production log levels for third parties; our own code and the web server at DEBUG.
DEBUG_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "fastapi", "web", "byok",
                 "starter", "activities", "workflows", "worker", "temporalio", "httpx")


async def test_enable_over_http_logs_no_secrets(live_server: LiveServer, worker: Any,
                                                caplog: pytest.LogCaptureFixture,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO)
    for name in DEBUG_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    settings = live_server.settings
    operator = {"Authorization": f"Bearer {settings.operator_api_key}"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        tenant = await create_tenant(http, operator, "loggy")
        resp = await http.post("/api/v1/wallet", headers=tenant.headers, json={
            "account": TENANT_ACCOUNT, "accept_irretrievable": True, "accept_immutable": True})
        assert resp.status_code == 201, resp.text
        issued = resp.json()
        payload = await asyncio.to_thread(deploy_stack, settings, account_id=TENANT_ACCOUNT,
                                          wait=False, token=issued["token"],
                                          external_id=issued["external_id"])
        assert (await http.post("/api/v1/wallets/_post-process", json=payload)).status_code == 200
        for _ in range(300):
            wallet = (await http.get("/api/v1/wallet", headers=tenant.headers)).json()
            if wallet["state"] != "Waiting":
                break
            await asyncio.sleep(0.2)
        assert wallet["state"] == "Enabled", wallet
        # A rejected replay and a bad key are logged too; still without their secrets.
        await http.post("/api/v1/wallets/_post-process", json=payload | {"aws_region": "x"})
        await http.get("/api/v1/wallet", headers={"Authorization": f"Bearer {tenant.key}x"})

    text = caplog.text + "".join(capfd.readouterr())
    assert "POST /api/v1/wallet" in text, "the access log was not captured"
    secrets = {"token": issued["token"], "external_id": issued["external_id"],
               "api key": tenant.key, "operator key": settings.operator_api_key}
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"secrets in the logs: {leaked}"
