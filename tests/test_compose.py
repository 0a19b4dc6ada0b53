"""docker-compose.yml is valid Compose and wires the services the code expects."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from byok.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"postgresql", "temporal", "temporal-ui", "worker", "transfer-worker", "web",
            "localaws"}
APP_SERVICES = ("worker", "transfer-worker", "web", "localaws")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_schema() -> dict[str, Any]:
    # The Compose Specification schema as vendored by check-jsonschema (a dev dependency):
    # no network at test time, and a newer spec than docker-compose 1.x ships.
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(vendored.read_text())


def env_of(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def test_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_validator_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    # Guards against a schema that accepts anything (e.g. a wrong or empty vendored file).
    schema = compose_schema()
    broken = {**compose, "services": {**compose["services"], "web": {"ports": "8000"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_every_expected_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= EXPECTED


def test_worker_scales(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert worker["command"] == ["python", "worker.py"]


def test_control_and_transfer_workers_scale_apart(compose: dict[str, Any]) -> None:
    services = compose["services"]
    queues = {name: env_of(services[name])["BYOK_WORKER_QUEUES"]
              for name in ("worker", "transfer-worker")}
    assert queues == {"worker": "control", "transfer-worker": "transfer"}
    for name in queues:
        service = services[name]
        assert service["init"] is True  # signals reach the worker: it drains on SIGTERM
        assert "container_name" not in service and not service.get("ports")
        env = env_of(service)
        assert env["BYOK_WORKER_METRICS_HOST"] == "0.0.0.0"
        grace = int(str(service["stop_grace_period"]).removesuffix("s"))
        drain = int(re.sub(r"\$\{[A-Z_]+:-(\d+)\}", r"\1",
                           str(env["BYOK_WORKER_SHUTDOWN_SECONDS"])))
        assert grace > drain  # compose waits for the drain before it kills
        assert str(env["BYOK_DATABASE_URL"]).startswith("postgresql://")


def test_app_services_point_at_the_cluster(compose: dict[str, Any]) -> None:
    for name in ("worker", "transfer-worker", "web"):
        env = env_of(compose["services"][name])
        assert env["BYOK_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert str(env["BYOK_DATABASE_URL"]).startswith("postgresql://")
        assert "@postgresql:5432/" in env["BYOK_DATABASE_URL"]


def test_byok_variables_are_real_settings(compose: dict[str, Any]) -> None:
    fields = {f"BYOK_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose["services"].items():
        unknown = {k for k in env_of(service) if k.startswith("BYOK_")} - fields
        assert not unknown, f"{name} sets variables Settings does not read: {unknown}"
    # ${BYOK_...} interpolations too: a typo there silently falls back to the default.
    text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"\$\{(BYOK_[A-Z0-9_]+)", text))
    assert interpolated - {"BYOK_IMAGE"} <= fields


def test_startup_order_uses_conditions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("temporal", "temporal-ui", "worker", "transfer-worker", "web"):
        deps = services[name]["depends_on"]
        assert isinstance(deps, dict) and all("condition" in d for d in deps.values()), name
    for name in ("postgresql", "temporal", "web", "localaws"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["depends_on"]["temporal-admin-tools"]["condition"] == (
        "service_completed_successfully")


def test_search_attributes_are_registered(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["temporal-admin-tools"]["command"])
    for attribute in ("TenantId", "WalletState"):
        assert f"--name {attribute} --type Keyword" in command


def test_ports_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "8233:8080" in services["temporal-ui"]["ports"]
    assert "8000:8000" in services["web"]["ports"]
    assert services["localaws"]["profiles"] == ["dev"]
    assert services["localaws"]["command"][:3] == ["python", "-m", "localaws"]
    assert "0.0.0.0" in services["localaws"]["command"]


def test_app_services_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        assert compose["services"][name]["build"]["dockerfile"] == "Dockerfile"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
