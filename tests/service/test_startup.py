"""Processes that serve tenants refuse unsafe settings at start-up, naming the variable."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from byok.keyspec import dev_key
from byok.settings import load_settings
from byok.startup import check_real_mode, host_of, is_loopback, require_safe_start
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
KEY = "k1:" + base64.b64encode(b"p" * 32).decode()
REAL = {"aws_endpoint_url": "", "service_account_id": "210987654321",
        "operator_api_key": "k" * 40, "session_secret": "s" * 40,
        "payload_keys": KEY, "audit_keys": KEY,
        "vault_bucket": "acme-byok-vault", "template_bucket": "acme-byok-templates",
        "public_url": "https://byok.acme.example"}


def test_a_complete_real_configuration_passes():
    assert check_real_mode(load_settings(**REAL), "0.0.0.0") == []


@pytest.mark.parametrize(("override", "variable"), [
    ({"service_account_id": "111122223333"}, "BYOK_SERVICE_ACCOUNT_ID"),
    ({"service_account_id": "123456789012"}, "BYOK_SERVICE_ACCOUNT_ID"),
    ({"operator_api_key": "dev-operator-key-change-me"}, "BYOK_OPERATOR_API_KEY"),
    ({"session_secret": "dev-session-secret-change-me"}, "BYOK_SESSION_SECRET"),
    ({"payload_keys": dev_key("payload")}, "BYOK_PAYLOAD_KEYS"),
    ({"audit_keys": f"{KEY},{dev_key('audit')}"}, "BYOK_AUDIT_KEYS"),
    ({"template_bucket": ""}, "BYOK_TEMPLATE_BUCKET"),
    ({"vault_bucket": ""}, "BYOK_VAULT_BUCKET"),
    ({"vault_bucket": "byok-vault-backups"}, "BYOK_VAULT_BUCKET"),
    ({"public_url": "http://byok.acme.example"}, "BYOK_PUBLIC_URL"),
])
def test_real_aws_refuses_each_unsafe_setting(override, variable):
    problems = check_real_mode(load_settings(**{**REAL, **override}), "10.0.0.5")
    assert len(problems) == 1 and problems[0].startswith(variable), problems


def test_real_aws_refuses_dev_secrets_even_on_loopback():
    settings = load_settings(**{**REAL, "session_secret": "dev-session-secret-change-me"})
    assert check_real_mode(settings, "127.0.0.1")[0].startswith("BYOK_SESSION_SECRET")


def test_embedded_stack_allows_dev_secrets_on_loopback_only():
    dev = load_settings()  # local AWS endpoint, dev secrets
    assert check_real_mode(dev, "127.0.0.1") == check_real_mode(dev, "::1") == []
    problems = check_real_mode(dev, "0.0.0.0")
    assert [p.split()[0] for p in problems] == ["BYOK_OPERATOR_API_KEY", "BYOK_SESSION_SECRET",
                                                "BYOK_PAYLOAD_KEYS", "BYOK_AUDIT_KEYS"]
    # Real secrets make an exposed embedded stack (the compose dev profile) fine.
    assert check_real_mode(load_settings(operator_api_key="k" * 40, session_secret="s" * 40,
                                         payload_keys=KEY, audit_keys=KEY), "0.0.0.0") == []


def test_the_error_never_shows_a_secret():
    secret = "a-real-secret-" + "x" * 30
    settings = load_settings(**{**REAL, "operator_api_key": secret, "public_url": "http://x"})
    with pytest.raises(Exception, match="BYOK_PUBLIC_URL") as info:
        require_safe_start(settings, "0.0.0.0", "the web app")
    assert secret not in str(info.value)


@pytest.mark.parametrize(("address", "host", "loopback"), [
    ("localhost:7233", "localhost", True), ("127.0.0.1:7233", "127.0.0.1", True),
    ("[::1]:7233", "::1", True), ("temporal:7233", "temporal", False),
    ("10.1.2.3:7233", "10.1.2.3", False)])
def test_hosts(address, host, loopback):
    assert host_of(address) == host and is_loopback(host) is loopback


def test_create_app_refuses_before_touching_the_database(tmp_path):
    settings = load_settings(home=tmp_path, web_host="0.0.0.0")
    with pytest.raises(SystemExit) as info:
        create_app(settings)
    assert info.value.code == 2
    assert not (tmp_path / "byok.db").exists()


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("BYOK_")}
    full.update(env, BYOK_HOME=str(tmp_path))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("env", "variable"), [
    ({"BYOK_AWS_ENDPOINT_URL": ""}, "BYOK_SERVICE_ACCOUNT_ID"),
    ({"BYOK_TEMPORAL_ADDRESS": "temporal.internal:7233"}, "BYOK_OPERATOR_API_KEY"),
])
def test_the_worker_exits_non_zero_naming_the_setting(tmp_path, env, variable):
    proc = _run(["worker.py"], env, tmp_path)
    assert proc.returncode == 2 and variable in proc.stderr, proc.stderr
    assert not (tmp_path / "byok.db").exists()


def test_the_web_app_exits_non_zero_naming_the_setting(tmp_path):
    proc = _run(["-m", "uvicorn", "web.app:create_app", "--factory", "--port", "0"],
                {"BYOK_WEB_HOST": "0.0.0.0"}, tmp_path)
    assert proc.returncode != 0 and "BYOK_SESSION_SECRET" in proc.stderr, proc.stderr
