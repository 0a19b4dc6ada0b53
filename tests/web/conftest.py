"""Web fixtures: the app over ASGI or live on a port, a worker, tenants with API keys."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from byok.settings import Settings
from tests.conftest import TENANT_ACCOUNT
from web.app import create_app

REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


@dataclass
class TenantKey:
    id: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def app(settings: Settings, engine: Engine, temporal_env: Any) -> FastAPI:
    app = create_app(settings)
    app.state.temporal = temporal_env.client
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://byok.test") as c:
        yield c


@pytest.fixture
def operator(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.operator_api_key}"}


NewTenant = Callable[..., Awaitable[TenantKey]]


async def create_tenant(http: httpx.AsyncClient, operator: dict[str, str], name: str,
                        regions: list[str] | None = None) -> TenantKey:
    """Through the operator API, as the service would: tenant, connected account, API key."""
    resp = await http.post("/api/v1/tenants", json={"name": name}, headers=operator)
    assert resp.status_code == 201, resp.text
    tid = resp.json()["id"]
    resp = await http.post(f"/api/v1/tenants/{tid}/connections", headers=operator,
                           json={"account_id": TENANT_ACCOUNT, "regions": regions or REGIONS})
    assert resp.status_code == 201, resp.text
    resp = await http.post(f"/api/v1/tenants/{tid}/api-keys", json={"name": "tests"},
                           headers=operator)
    assert resp.status_code == 201, resp.text
    return TenantKey(tid, resp.json()["key"], resp.json()["id"])


@pytest.fixture
def new_tenant(client: httpx.AsyncClient, operator: dict[str, str]) -> NewTenant:
    async def make(name: str = "acme", regions: list[str] | None = None) -> TenantKey:
        return await create_tenant(client, operator, name, regions)
    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: FastAPI


@pytest.fixture
def live_server(settings: Settings, temporal_env: Any) -> Iterator[LiveServer]:
    """The real app under uvicorn in a thread (its own event loop and Temporal client)."""
    port = free_port()
    target = temporal_env.client.service_client.config.target_host
    live = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}",
                                       "temporal_address": target})
    app = create_app(live)
    # log_config=None: uvicorn's loggers propagate to the root, where tests can capture them.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=True, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield LiveServer(live.public_url, live, app)
    server.should_exit = True
    thread.join(timeout=10)
