"""API keys: stored only as SHA-256 with a display prefix; the `byok keys` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from byok import apikeys, crud
from byok.db import session_scope
from byok.errors import NotFound, Unauthorized
from byok.models import ApiKey
from starter.keys import keys_app


def test_key_is_stored_hashed_verifies_and_revokes(engine: Engine) -> None:
    with session_scope(engine) as session:
        tenant = crud.create_tenant(session, name="acme")
        other = crud.create_tenant(session, name="other")
        issued = apikeys.create(session, tenant_id=tenant.id, name="ci")
    with session_scope(engine) as session:
        row = session.get(ApiKey, issued.row.id)
        assert row is not None and row.key_hash == apikeys.hash_key(issued.key)
        assert issued.key not in (row.key_hash, row.prefix) and issued.key.startswith(row.prefix)
        assert apikeys.verify(session, issued.key).tenant_id == tenant.id
        with pytest.raises(NotFound):
            apikeys.revoke(session, tenant_id=other.id, key_id=row.id)
        apikeys.revoke(session, tenant_id=tenant.id, key_id=row.id)
    with session_scope(engine) as session, pytest.raises(Unauthorized):
        apikeys.verify(session, issued.key)


def test_keys_cli_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_DATABASE_URL", raising=False)
    from starter.context import context

    with session_scope(context().engine) as session:
        crud.create_tenant(session, name="acme")
    runner = CliRunner()
    created = runner.invoke(keys_app, ["create", "--tenant", "acme", "--name", "ci", "--json"])
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["key"].startswith(data["prefix"]) and data["name"] == "ci"
    listed = runner.invoke(keys_app, ["list", "--tenant", "acme", "--json"])
    rows = json.loads(listed.output)
    assert [r["id"] for r in rows] == [data["id"]] and data["key"] not in listed.output
    revoked = runner.invoke(keys_app, ["revoke", "--tenant", "acme", data["id"]])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = json.loads(runner.invoke(keys_app, ["list", "--tenant", "acme", "--json"]).output)
    assert again[0]["revoked"] is True
    missing = runner.invoke(keys_app, ["revoke", "--tenant", "acme", "ak-nope"])
    assert missing.exit_code != 0
