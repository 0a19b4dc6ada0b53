"""Attack: through a restore, learn whether another tenant's file exists (409 against 202),
overwrite it with `force`, or plant a link in one's own restores folder and have `force`
write through it. Restores land only in the tenant's folder, 0600 files in a 0700 folder."""

from __future__ import annotations

import asyncio
import stat
from typing import Any

import httpx

from byok.settings import Settings
from tests.security.paths import restores_dir
from tests.web.conftest import NewTenant, TenantKey
from tests.web.test_api_health import backup_done


async def restore(client: httpx.AsyncClient, tenant: TenantKey, backup_id: str,
                  target: str, force: bool = False) -> httpx.Response:
    return await client.post("/api/v1/restores", headers=tenant.headers, json={
        "backup_id": backup_id, "target": target, "force": force})


async def finished(client: httpx.AsyncClient, tenant: TenantKey, restore_id: str) -> Any:
    for _ in range(300):
        got = (await client.get(f"/api/v1/restores/{restore_id}",
                                headers=tenant.headers)).json()
        if got.get("status") not in (None, "pending"):
            return got
        await asyncio.sleep(0.1)
    raise AssertionError("restore still pending")


async def test_another_tenants_files_can_be_neither_probed_nor_overwritten(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings,
        worker: Any) -> None:
    alice, bob = await new_tenant(), await new_tenant("bob")
    made = await backup_done(client, alice, settings, "us-east-1", b"alice" * 100)
    theirs = restores_dir(settings, bob.id) / "ledger"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"bob's ledger")
    for force in (False, True):
        for form in ("../{bob}/{name}", "{folder}/{name}"):
            answers = set()
            for name in ("ledger", "no-such-file"):  # exists, does not: the same answer
                target = form.format(bob=bob.id, folder=theirs.parent, name=name)
                resp = await restore(client, alice, made["id"], target, force)
                answers.add((resp.status_code, resp.json()["error"]["message"]))
            [(code, message)] = answers
            assert code == 422 and ("restores folder" in message or ".." in message), message
    assert theirs.read_bytes() == b"bob's ledger"


async def test_force_replaces_a_planted_link_and_never_writes_through_it(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings,
        worker: Any) -> None:
    alice, bob = await new_tenant(), await new_tenant("bob")
    made = await backup_done(client, alice, settings, "us-east-1", b"alice" * 100)
    theirs = restores_dir(settings, bob.id) / "ledger"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"bob's ledger")
    mine = restores_dir(settings, alice.id)
    mine.mkdir(parents=True)
    (mine / "out").symlink_to(theirs)
    resp = await restore(client, alice, made["id"], "out", force=True)
    assert resp.status_code == 202, resp.text
    assert (await finished(client, alice, resp.json()["restore_id"]))["status"] == "complete"
    assert theirs.read_bytes() == b"bob's ledger"
    out = mine / "out"
    assert not out.is_symlink() and out.read_bytes() == b"alice" * 100


async def test_restored_files_are_0600_in_a_0700_folder_and_existing_ones_need_force(
        client: httpx.AsyncClient, new_tenant: NewTenant, settings: Settings,
        worker: Any) -> None:
    alice = await new_tenant()
    made = await backup_done(client, alice, settings, "us-east-1", b"alice" * 100)
    resp = await restore(client, alice, made["id"], "copy")
    assert (await finished(client, alice, resp.json()["restore_id"]))["status"] == "complete"
    folder = restores_dir(settings, alice.id)
    assert stat.S_IMODE((folder / "copy").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = await restore(client, alice, made["id"], "copy")
    assert again.status_code == 409 and again.json()["error"]["field"] == "target"
    assert again.json()["error"]["message"].startswith("copy already exists")
