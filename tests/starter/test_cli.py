"""The `byok` CLI: tenants, connections, status and audit; bad input exits non-zero and
writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from starter.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_DATABASE_URL", raising=False)
    return tmp_path


def byok(*args: str) -> tuple[int, str]:
    out = runner.invoke(app, list(args))
    return out.exit_code, out.output


def rows(home: Path, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(f"sqlite:///{home / 'byok.db'}")
    with engine.connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_tenant_connect_status_audit(home: Path) -> None:
    code, out = byok("tenant", "create", "acme", "--json")
    assert code == 0, out
    tenant = json.loads(out)["id"]
    code, out = byok("connect", "--tenant", "acme", "--account", "444455556666",
                     "--regions", "us-east-1,us-west-2", "--json")
    assert code == 0 and json.loads(out)["regions"] == ["us-east-1", "us-west-2"], out
    code, out = byok("status", "--tenant", tenant, "--json")
    status = json.loads(out)
    # The wallet's keys are DESIGN.md's names.
    for key in ("state", "error_code", "error_message", "key_errors", "account_native_id",
                "role_arn", "key_arn", "replica_key_arns", "installed_regions",
                "supported_regions", "stack_version", "available_version", "deployment_url",
                "template_url", "token"):
        assert key in status
    assert status["state"] == "NotConfigured"
    assert status["supported_regions"] == ["us-east-1", "us-west-2"]
    code, out = byok("audit", "--tenant", "acme", "--verify")
    assert code == 0 and "OK (2 events)" in out, out


def test_connect_prints_the_stack_to_deploy_and_connections_lists_it(home: Path) -> None:
    byok("tenant", "create", "acme")
    code, out = byok("connect", "--tenant", "acme", "--account", "444455556666",
                     "--regions", "us-east-1")
    assert code == 0, out
    for needle in ("pending", "ByokVaultConnection-", "ExternalId:", "(shown only now)",
                   "byok-connection-v1-", "quickcreate", "deploy the connection stack"):
        assert needle in out, out
    code, out = byok("connections", "--tenant", "acme", "--json")
    [conn] = json.loads(out)
    assert code == 0 and conn["state"] == "pending" and conn["token"] is None
    code, out = byok("connect", "--tenant", "acme", "--account", "111122223333",
                     "--regions", "us-east-1")
    assert code != 0 and "own account" in out, out


@pytest.mark.parametrize(("args", "needle"), [
    (["connect", "--tenant", "acme", "--account", "12345678901", "--regions", "us-east-1"],
     "12 digits"),
    (["connect", "--tenant", "acme", "--account", "abcdefghijkl", "--regions", "us-east-1"],
     "12 digits"),
    (["connect", "--tenant", "acme", "--account", "444455556666", "--regions", "mars-1"],
     "unknown AWS region"),
    (["connect", "--tenant", "nobody", "--account", "444455556666", "--regions", "us-east-1"],
     "no tenant"),
    (["tenant", "create", "acme"], "already exists"),
])
def test_bad_input_exits_non_zero_and_writes_nothing(home: Path, args: list[str],
                                                     needle: str) -> None:
    assert byok("tenant", "create", "acme")[0] == 0
    before = rows(home, "SELECT count(*) FROM auditevent")
    code, out = byok(*args)
    assert code != 0 and needle in out, out
    assert rows(home, "SELECT count(*) FROM awsconnection") == [(0,)]
    assert rows(home, "SELECT count(*) FROM tenant") == [(1,)]
    assert rows(home, "SELECT count(*) FROM auditevent") == before


def test_invalid_setting_is_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_WEB_PORT", "eighty")
    code, out = byok("tenant", "list")
    assert code != 0 and "BYOK_WEB_PORT" in out


def test_audit_verify_names_the_tampered_event(home: Path) -> None:
    byok("tenant", "create", "acme")
    byok("connect", "--tenant", "acme", "--account", "444455556666", "--regions", "us-east-1")
    byok("connect", "--tenant", "acme", "--account", "444455556666", "--regions", "us-west-2")
    engine = create_engine(f"sqlite:///{home / 'byok.db'}")
    with engine.begin() as conn:  # someone edits the database behind the app's back
        conn.execute(text("DROP TRIGGER auditevent_no_update"))
        conn.execute(text("UPDATE auditevent SET actor='mallory' WHERE seq=2"))
    code, out = byok("audit", "--tenant", "acme", "--verify", "--json")
    report = json.loads(out)
    assert code != 0 and report["ok"] is False and report["first_bad_seq"] == 2
