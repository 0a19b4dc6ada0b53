"""Attack: copy a signed-in console cookie (shared machine, proxy log, stolen backup of the
browser profile) and replay it after its owner signed out. Sign-out must end the session on
the server, not only delete the cookie from the one browser that pressed the button."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from byok.settings import Settings
from tests.web.conftest import NewTenant
from tests.web.test_console import sign_in
from web.app import create_app


async def test_a_copied_cookie_is_dead_after_sign_out(
        client: httpx.AsyncClient, app: FastAPI, new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    csrf = await sign_in(client, tenant)
    copied = client.cookies["byok_session"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://byok.test") as attacker:
        attacker.cookies.set("byok_session", copied)
        assert (await attacker.get(f"/t/{tenant.id}/audit")).status_code == 200  # it works...
        assert (await client.post("/signout", data={"csrf_token": csrf})).status_code == 303
        replay = await attacker.get(f"/t/{tenant.id}/audit")  # ...until its owner signs out
        assert replay.status_code == 303 and replay.headers["location"] == "/signin"
        poll = await attacker.get(f"/t/{tenant.id}/encryption-key/progress",
                                  headers={"X-Console-Poll": "1"})
        assert poll.status_code == 401
        # Nor can the attacker act with the old CSRF token and cookie.
        again = await attacker.post(f"/t/{tenant.id}/health/check", data={"csrf_token": csrf})
        assert again.status_code == 303 and again.headers["location"] == "/signin"


async def test_other_sessions_of_the_same_key_survive_one_sign_out(
        client: httpx.AsyncClient, app: FastAPI, new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://byok.test") as laptop:
        await sign_in(laptop, tenant)
        csrf = await sign_in(client, tenant)
        await client.post("/signout", data={"csrf_token": csrf})
        assert (await laptop.get(f"/t/{tenant.id}/audit")).status_code == 200


async def test_cookies_are_secure_when_the_public_url_is_https(
        settings: Settings, temporal_env: Any, new_tenant: NewTenant) -> None:
    https = settings.model_copy(update={"public_url": "https://byok.example.com"})
    app = create_app(https)
    app.state.temporal = temporal_env.client
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://byok.example.com") as browser:
        page = await browser.get("/signin")
        cookie = page.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        tenant = await new_tenant()
        csrf = await sign_in(browser, tenant)
        out = await browser.post("/signout", data={"csrf_token": csrf})
        assert "secure" in out.headers["set-cookie"].lower()  # the deletion too
