"""Console over HTTP: session cookie, CSRF, inline form errors, scoping (the browser tests walk
the same pages in Chromium)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import audit
from byok.db import session_scope
from byok.models import EnableToken, Wallet
from tests.conftest import TENANT_ACCOUNT
from tests.web.conftest import NewTenant, TenantKey

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, tenant: TenantKey) -> str:
    page = await client.get("/signin")
    resp = await client.post("/signin", data={"api_key": tenant.key,
                                              "csrf_token": CSRF.findall(page.text)[0]})
    assert resp.status_code == 303 and resp.headers["location"].endswith("/encryption-key")
    return CSRF.findall((await client.get(resp.headers["location"])).text)[0]


async def test_sign_in_sets_a_hardened_cookie_and_sign_out_clears_it(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    tenant = await new_tenant()
    assert (await client.get(f"/t/{tenant.id}/audit")).headers["location"] == "/signin"
    page = await client.get("/signin")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    bad = await client.post("/signin", data={"api_key": "bvk_wrong",
                                             "csrf_token": CSRF.findall(page.text)[0]})
    assert bad.status_code == 401 and "unknown or was revoked" in bad.text
    assert "bvk_wrong" not in bad.text  # a typed key is never echoed back

    csrf = await sign_in(client, tenant)
    signed = client.cookies["byok_session"]
    assert tenant.key not in signed
    audit_page = await client.get(f"/t/{tenant.id}/audit")
    assert audit_page.status_code == 200 and "Chain verified" in audit_page.text
    forged = await client.post("/signout", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    out = await client.post("/signout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert (await client.get(f"/t/{tenant.id}/audit")).status_code == 303
    with session_scope(engine) as session:
        assert "console.signed_in" in [e.action for e in audit.history(session, tenant.id)]


async def test_tampered_cookie_and_revoked_key_end_the_session(
        client: httpx.AsyncClient, new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    await sign_in(client, tenant)
    good = client.cookies["byok_session"]
    client.cookies.set("byok_session", good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    assert (await client.get(f"/t/{tenant.id}/backups")).status_code == 303
    client.cookies.set("byok_session", good)
    assert (await client.get(f"/t/{tenant.id}/backups")).status_code == 200
    await client.delete(f"/api/v1/api-keys/{tenant.key_id}", headers=tenant.headers)
    resp = await client.get(f"/t/{tenant.id}/backups")
    assert resp.status_code == 303 and resp.headers["location"] == "/signin"
    poll = await client.get(f"/t/{tenant.id}/encryption-key/progress",
                            headers={"X-Console-Poll": "1"})
    assert poll.status_code == 401


async def test_bad_account_is_shown_inline_with_the_typed_value_and_nothing_is_created(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    tenant = await new_tenant()
    csrf = await sign_in(client, tenant)
    form = await client.get(f"/t/{tenant.id}/encryption-key/new")
    assert "Next" in form.text and "permanently irretrievable" in form.text
    resp = await client.post(f"/t/{tenant.id}/encryption-key/new", data={
        "account": "12345abc", "accept_irretrievable": "yes", "csrf_token": csrf})
    assert resp.status_code == 422
    assert 'value="12345abc"' in resp.text and 'id="account-error"' in resp.text
    assert "12 digits" in resp.text
    assert 'name="accept_irretrievable" value="yes" checked' in resp.text
    missing = await client.post(f"/t/{tenant.id}/encryption-key/new", data={
        "account": TENANT_ACCOUNT, "accept_irretrievable": "yes", "csrf_token": csrf})
    assert missing.status_code == 422 and "can never be changed" in missing.text
    no_csrf = await client.post(f"/t/{tenant.id}/encryption-key/new", data={
        "account": TENANT_ACCOUNT, "accept_irretrievable": "yes", "accept_immutable": "yes"})
    assert no_csrf.status_code == 403
    with session_scope(engine) as session:
        assert session.get(Wallet, tenant.id) is None
        assert not session.exec(select(EnableToken)).all()


async def test_another_tenants_pages_are_refused_and_audited(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    alice, bob = await new_tenant("alice"), await new_tenant("bob")
    await sign_in(client, alice)
    for page in ("encryption-key", "encryption-key/new", "encryption-key/progress", "backups",
                 "health", "audit", "api-keys"):
        resp = await client.get(f"/t/{bob.id}/{page}")
        assert resp.status_code == 404, page
        assert "bob" not in resp.text
    with session_scope(engine) as session:
        denied = [e for e in audit.history(session, alice.id) if e.action == "access.denied"]
        assert len(denied) == 7 and denied[0].details["via"] == "console"
        assert not [e for e in audit.history(session, bob.id) if e.action == "access.denied"]
