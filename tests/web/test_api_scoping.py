"""Who may see what: tenant scoping (404 + audited), revoked and unknown keys, operator key."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.engine import Engine

from byok import audit
from byok.db import session_scope
from byok.models import Backup, Restore
from tests.web.conftest import NewTenant, TenantKey


def add_backup(engine: Engine, tenant: TenantKey, backup_id: str, key_kind: str = "default",
               workload: str = "ebs") -> None:
    with session_scope(engine) as session:
        session.add(Backup(id=backup_id, tenant_id=tenant.id, workload=workload,
                           source=f"{workload}-source-1", region="us-east-1",
                           plaintext_size=2 << 20, stored_size=(2 << 20) + 300,
                           key_arn="arn:aws:kms:us-east-1:111122223333:key/default",
                           key_kind=key_kind, object_key=f"{tenant.id}/{backup_id}",
                           status="complete"))
        session.flush()
        session.add(Restore(id=f"rs-{backup_id}", tenant_id=tenant.id, backup_id=backup_id,
                            target="vol-restored"))


async def test_other_tenants_things_answer_404_and_are_audited(
        client: httpx.AsyncClient, new_tenant: NewTenant, engine: Engine) -> None:
    alice, bob = await new_tenant("alice"), await new_tenant("bob")
    add_backup(engine, alice, "bk-alice")
    add_backup(engine, bob, "bk-bob")
    mine = await client.get("/api/v1/backups", headers=alice.headers)
    assert [b["id"] for b in mine.json()] == ["bk-alice"]
    assert (await client.get("/api/v1/backups/bk-alice", headers=alice.headers)).status_code == 200
    restores = await client.get("/api/v1/restores", headers=alice.headers)
    assert [r["backup_id"] for r in restores.json()] == ["bk-alice"]

    attempts = [("GET", "/api/v1/backups/bk-bob", "backup"),
                ("GET", "/api/v1/restores/rs-bk-bob", "restore"),
                ("POST", f"/api/v1/wallets/{bob.id}/_refresh", "wallet"),
                ("GET", f"/api/v1/tenants/{bob.id}", "tenant"),
                ("DELETE", f"/api/v1/api-keys/{bob.key_id}", "api_key")]
    for method, path, _resource in attempts:
        resp = await client.request(method, path, headers=alice.headers)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["error"]["code"] == "NOT_FOUND"
    # A missing id answers exactly like a foreign one: nothing reveals that bob's exists.
    foreign = (await client.get("/api/v1/backups/bk-bob", headers=alice.headers)).json()
    missing = (await client.get("/api/v1/backups/bk-nope", headers=alice.headers)).json()
    assert foreign["error"].keys() == missing["error"].keys()
    assert (await client.get("/api/v1/tenants/me", headers=bob.headers)).status_code == 200

    with session_scope(engine) as session:
        denied = [e for e in audit.history(session, alice.id) if e.action == "access.denied"]
        assert [e.details["resource"] for e in denied] == [r for _, _, r in attempts] + [
            "backup", "backup"]
        assert all(e.actor == f"apikey:{alice.key_id}" for e in denied)
        assert not [e for e in audit.history(session, bob.id) if e.action == "access.denied"]
        assert audit.verify(session, alice.id).ok
    log = (await client.get("/api/v1/audit", headers=alice.headers)).text
    assert alice.key not in log and bob.key not in log


async def test_revoked_unknown_and_missing_keys_get_401(
        client: httpx.AsyncClient, new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    assert (await client.get("/api/v1/wallet", headers=tenant.headers)).status_code == 200
    keys = (await client.get("/api/v1/api-keys", headers=tenant.headers)).json()
    assert [k["prefix"] for k in keys] == [tenant.key[:12]] and "key" not in keys[0]

    revoked = await client.delete(f"/api/v1/api-keys/{tenant.key_id}", headers=tenant.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    for headers in (tenant.headers, {"Authorization": "Bearer bvk_unknown"},
                    {"Authorization": "Bearer not-even-a-key"}, {}):
        resp = await client.get("/api/v1/wallet", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json()["error"]["field"] == "authorization"
        assert resp.headers["www-authenticate"] == "Bearer"


async def test_operator_endpoints_need_the_operator_key(
        client: httpx.AsyncClient, new_tenant: NewTenant, operator: dict[str, str]) -> None:
    tenant = await new_tenant()
    for headers in (tenant.headers, {"Authorization": "Bearer wrong"}, {}):
        resp = await client.post("/api/v1/tenants", json={"name": "evil"}, headers=headers)
        assert resp.status_code == 401
        resp = await client.post(f"/api/v1/tenants/{tenant.id}/api-keys", headers=headers)
        assert resp.status_code == 401
    # The operator key is not a tenant key either.
    assert (await client.get("/api/v1/wallet", headers=operator)).status_code == 401
    dup = await client.post("/api/v1/tenants", json={"name": "acme"}, headers=operator)
    assert dup.status_code == 409 and dup.json()["error"]["field"] == "name"
    nope = await client.post("/api/v1/tenants/tn-nope/api-keys", headers=operator)
    assert nope.status_code == 404


@pytest.mark.parametrize("name", ["", " ", "x" * 101, "bad\nname"])
async def test_bad_api_key_names_are_refused(client: httpx.AsyncClient, new_tenant: NewTenant,
                                             operator: dict[str, str], name: str) -> None:
    tenant = await new_tenant()
    resp = await client.post(f"/api/v1/tenants/{tenant.id}/api-keys", json={"name": name},
                             headers=operator)
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "name"
