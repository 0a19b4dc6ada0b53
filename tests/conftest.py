"""Shared fixtures: settings, databases (SQLite and PostgreSQL), localaws and Temporal."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import Engine

from byok.db import make_engine, migrate
from byok.settings import Settings, load_settings

PG_DSN = os.environ.get("BYOK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
SERVICE_ACCOUNT, TENANT_ACCOUNT, OTHER_ACCOUNT = "111122223333", "444455556666", "777788889999"


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


PG_AVAILABLE = _pg_reachable()


@pytest.fixture(scope="session", autouse=True)
def _aws_credentials() -> Iterator[None]:
    """The process acts as the service's account on localaws; never as a real AWS user."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                             "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN")}
    os.environ.update(AWS_ACCESS_KEY_ID=SERVICE_ACCOUNT, AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_SESSION_TOKEN", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pg_url_for_new_schema() -> str:
    """A fresh schema per test keeps PostgreSQL tests independent (and triggers per schema)."""
    if not PG_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {PG_DSN} is unreachable")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{PG_DSN}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Tests that take db_url run on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'byok.db'}"
    return pg_url_for_new_schema()


@pytest.fixture
def any_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def localaws() -> Iterator[object]:
    from localaws import LocalAws

    aws = LocalAws(host="127.0.0.1", port=0)
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture
def settings(tmp_path: Path, localaws: object) -> Settings:
    db = os.environ.get("BYOK_TEST_DATABASE", "sqlite")
    url = pg_url_for_new_schema() if db == "postgres" else ""
    return load_settings(home=tmp_path / "home", aws_endpoint_url=localaws.url,  # type: ignore[attr-defined]
                         database_url=url, task_queue=f"q-{secrets.token_hex(4)}",
                         public_url="http://byok.test",
                         # The time-skipping server has no Schedules; tests/health tests them.
                         health_schedule="off",
                         # Short: a really missing key must not hold each test for long.
                         aws_consistency_seconds=2)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def aws(settings: Settings, localaws: object) -> object:
    """Fresh localaws state with the service's own resources provisioned."""
    from byok.aws import AwsClients
    from control.service import ensure_service_resources

    localaws.reset()  # type: ignore[attr-defined]
    clients = AwsClients(settings)
    ensure_service_resources(clients, settings)
    return clients


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[object]:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.testing import WorkflowEnvironment

    from byok.codec import data_converter

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(VENV_BIN / "temporal-test-server"),
        data_converter=data_converter(load_settings().payload_keys))
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="default", search_attributes={"TenantId": keyword, "WalletState": keyword}))
    yield env
    await env.shutdown()


@pytest.fixture
async def worker(temporal_env: Any, settings: Settings, engine: Engine,
                 aws: Any) -> AsyncIterator[Any]:
    """The real worker (every workflow and activity) on the session's test server."""
    from concurrent.futures import ThreadPoolExecutor

    from worker import build_worker

    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(temporal_env.client, settings, engine, aws, executor) as w:
            yield w
