"""`byok health` and `byok status --json` show the stored health."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from starter.cli import app


async def test_health_and_status_json(hooks: Any, settings: Any, backup: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    await backup("us-east-1", size=1234)
    await hooks.check()
    monkeypatch.setenv("BYOK_HOME", str(settings.home))
    monkeypatch.setenv("BYOK_DATABASE_URL", settings.db_url)
    runner = CliRunner()
    out = runner.invoke(app, ["health", "--tenant", hooks.tenant_id, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["state"] == "Healthy" and len(data["regions"]) == 3
    assert data["blast_radius"][0]["bytes"] == 1234
    status = json.loads(runner.invoke(app, ["status", "--tenant", hooks.tenant_id,
                                            "--json"]).output)
    assert status["health"]["state"] == "Healthy"
    assert status["health"]["blast_radius"] == data["blast_radius"]
    human = runner.invoke(app, ["health", "--tenant", hooks.tenant_id])
    assert human.exit_code == 0 and "Healthy" in human.output
