"""`byok enable` offers the three paths with the tenant's values filled in: the quick-create
link, the manual template (with the tenant-managed replicas StackSet), and Terraform."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from starter.cli import app

runner = CliRunner()
ACCOUNT = "444455556666"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporal_env: Any,
            localaws: Any) -> Any:
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_DATABASE_URL", raising=False)
    monkeypatch.setenv("BYOK_TEMPORAL_ADDRESS",
                       temporal_env.client.service_client.config.target_host)
    monkeypatch.setenv("BYOK_AWS_ENDPOINT_URL", localaws.url)
    monkeypatch.setenv("BYOK_PUBLIC_URL", "http://byok.test")
    return temporal_env


def byok(*args: str) -> tuple[int, str]:
    out = runner.invoke(app, list(args))
    return out.exit_code, out.output


def _enable(name: str, *extra: str) -> tuple[int, str]:
    assert byok("tenant", "create", name)[0] == 0
    code, out = byok("connect", "--tenant", name, "--account", ACCOUNT,
                     "--regions", "us-east-1,us-west-2,eu-west-1")
    assert code == 0, out
    return byok("enable", "--tenant", name, "--account", ACCOUNT, "--accept-irretrievable",
                "--accept-immutable", *extra)


async def enable(name: str, *extra: str) -> tuple[int, str]:
    # In a thread: the CLI runs its own event loop, and the test's is running.
    return await asyncio.to_thread(_enable, name, *extra)


async def terminate(env: Any, workflow_id: str) -> None:
    await env.client.get_workflow_handle(workflow_id).terminate(reason="test done")


async def test_enable_json_carries_the_three_paths_filled_in(cli_env: Any) -> None:
    code, out = await enable("acme", "--json")
    assert code == 0, out
    data = json.loads(out)
    try:
        paths = data["paths"]
        assert paths["quick_create"]["url"] == data["deployment_url"]
        assert paths["cloudformation"]["template_url"] == data["template_url"]
        assert paths["cloudformation"]["parameters"]["ExternalId"] == data["external_id"]
        assert "byok-v2-replicas" in paths["cloudformation"]["replicas_template_url"]
        commands = paths["cloudformation"]["replicas_commands"]
        assert f"--accounts {ACCOUNT}" in commands and "--regions eu-west-1 us-west-2" in commands
        tf = paths["terraform"]
        assert tf["module_source"] == "http://byok.test/api/v1/terraform/byok-vault.zip"
        snippet = tf["snippet"]
        assert f'external_id        = "{data["external_id"]}"' in snippet
        assert "vault_token        = var.byok_vault_token" in snippet
        assert "sensitive = true" in snippet
        assert data["token"] not in snippet  # the token goes in TF_VAR_byok_vault_token only
        assert 'service_role_arn   = "arn:aws:iam::111122223333:role/ByokVaultService"' \
            in snippet
        assert "callback_topic_arn = \"arn:aws:sns:us-east-1:" in snippet
        assert 'region = "us-east-1"' in snippet
        for region in ("us-west-2", "eu-west-1"):
            alias = region.replace("-", "_")
            assert f'#   alias  = "{alias}"' in snippet
            assert f"#   providers       = {{ aws = aws.{alias} }}" in snippet
        assert f'source = "{tf["module_source"]}"' in snippet
        assert "TF_VAR_byok_vault_token" in tf["apply"]
    finally:
        await terminate(cli_env, data["workflow_id"])


async def test_enable_prints_the_terraform_path(cli_env: Any) -> None:
    code, out = await enable("globex")
    assert code == 0, out
    try:
        assert "Or with Terraform" in out and 'module "byok_vault"' in out
        assert "modules/replica" in out and "create-stack-set" in out
        assert "Quick-create link" in out
    finally:
        status = await asyncio.to_thread(byok, "status", "--tenant", "globex", "--json")
        await terminate(cli_env, "enable-byok-" + json.loads(status[1])["tenant_id"])
