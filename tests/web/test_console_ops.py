"""Console over HTTP for key health, restores and the upgrade: CSRF, inline errors, scoping."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import audit
from byok.db import session_scope
from byok.models import Restore
from tests.web.conftest import NewTenant
from tests.web.test_api_scoping import add_backup
from tests.web.test_console import sign_in


async def test_key_health_page_and_check_now_without_a_key(
        client: httpx.AsyncClient, new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    csrf = await sign_in(client, tenant)
    page = await client.get(f"/t/{tenant.id}/health")
    assert page.status_code == 200 and "Not yet checked" in page.text
    assert "BYOK is not enabled" in page.text
    forged = await client.post(f"/t/{tenant.id}/health/check", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    done = await client.post(f"/t/{tenant.id}/health/check", data={"csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"].endswith("?checked=none")
    assert "no key of yours to check" in (await client.get(done.headers["location"])).text


async def test_restore_form_errors_inline_and_scoping(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    alice, bob = await new_tenant("alice"), await new_tenant("bob")
    add_backup(engine, alice, "bk-alice")
    add_backup(engine, bob, "bk-bob")
    csrf = await sign_in(client, alice)
    listing = await client.get(f"/t/{alice.id}/backups")
    assert f"/t/{alice.id}/backups/bk-alice/restore" in listing.text
    form = await client.get(f"/t/{alice.id}/backups/bk-alice/restore")
    assert form.status_code == 200 and f"restores/{alice.id}/bk-alice" in form.text

    url = f"/t/{alice.id}/backups/bk-alice/restore"
    bad = await client.post(url, data={"target": "/etc/passwd", "csrf_token": csrf})
    assert bad.status_code == 422 and 'id="target-error"' in bad.text
    assert 'value="/etc/passwd"' in bad.text  # what was typed is kept
    forged = await client.post(url, data={"target": "", "csrf_token": "forged"})
    assert forged.status_code == 403 and "expired" in forged.text

    foreign = await client.post(f"/t/{alice.id}/backups/bk-bob/restore",
                                data={"csrf_token": csrf})
    assert foreign.status_code == 404
    assert (await client.get(f"/t/{alice.id}/backups/bk-bob/restore")).status_code == 404
    assert (await client.get(f"/t/{alice.id}/restores/rs-bk-bob")).status_code == 404
    with session_scope(engine) as session:
        assert len(session.exec(select(Restore)).all()) == 2  # add_backup's two, no new one
        denied = [e.details["ref"] for e in audit.history(session, alice.id)
                  if e.action == "access.denied"]
        assert denied[:2] == ["bk-bob", "bk-bob"]


async def test_upgrade_without_a_legacy_key_says_why(client: httpx.AsyncClient,
                                                     new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    csrf = await sign_in(client, tenant)
    resp = await client.post(f"/t/{tenant.id}/encryption-key/upgrade",
                             data={"csrf_token": csrf})
    assert resp.status_code == 409 and "BYOK is not enabled" in resp.text
    forged = await client.post(f"/t/{tenant.id}/encryption-key/upgrade",
                               data={"csrf_token": "forged"})
    assert forged.status_code == 403
    # No migration running: the upgrade page sends the tenant back to Encryption Key.
    page = await client.get(f"/t/{tenant.id}/encryption-key/upgrade")
    assert page.status_code == 303
