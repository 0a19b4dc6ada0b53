"""Attacks by volume: guess API keys, the operator key or console sign-ins; flood the stack
callback or the on-demand checks; send a body too big to parse. Each is refused with 429 and
Retry-After (or 413) before it costs more, and failed authentication is audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import audit
from byok.db import session_scope
from byok.models import Tenant
from byok.settings import Settings
from control import tenants
from tests.web.conftest import create_tenant
from tests.web.test_console import CSRF
from web.app import create_app
from web.ratelimit import MemoryStore

LIMITS = {"rate_limit_signin": 4, "rate_limit_auth_failures": 3, "rate_limit_callback": 3,
          "rate_limit_checks": 2, "max_body_bytes": 4096}
Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
def limited(settings: Settings, engine: Engine, temporal_env: Any) -> FastAPI:
    app = create_app(settings.model_copy(update=LIMITS))
    app.state.temporal = temporal_env.client
    return app


@pytest.fixture
async def client_from(limited: FastAPI) -> AsyncIterator[Client]:
    """A client of the app from a given address (the limits are per client)."""
    opened: list[httpx.AsyncClient] = []

    def make(ip: str = "203.0.113.9") -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=limited, client=(ip, 5000)),
                              base_url="http://byok.test")
        opened.append(c)
        return c
    yield make
    for c in opened:
        await c.aclose()


def _limited(resp: httpx.Response) -> int:
    assert resp.status_code == 429, (resp.status_code, resp.text[:300])
    wait = int(resp.headers["retry-after"])
    assert 1 <= wait <= 60
    return wait


async def test_guessing_tenant_keys_is_stopped_and_audited(
        client_from: Client, settings: Settings, engine: Engine) -> None:
    attacker, other = client_from("198.51.100.7"), client_from("198.51.100.8")
    tenant = await create_tenant(other, {"Authorization": f"Bearer {settings.operator_api_key}"},
                                 "victim")
    guesses = [f"bvk_guess{i:04d}xxxxxxxxxxxxxxxx" for i in range(5)]
    answers = [await attacker.get("/api/v1/wallet", headers={"Authorization": f"Bearer {g}"})
               for g in guesses]
    assert [r.status_code for r in answers[:3]] == [401, 401, 401]
    _limited(answers[3])
    body = answers[4].json()["error"]
    assert body["code"] == "RATE_LIMITED" and "failed authentications" in body["message"]
    # Blocked means blocked: even the right key from that client waits; others are served.
    _limited(await attacker.get("/api/v1/wallet", headers=tenant.headers))
    assert (await other.get("/api/v1/wallet", headers=tenant.headers)).status_code == 200
    with session_scope(engine) as db:
        events = [e for e in audit.history(db, audit.SYSTEM_TENANT) if e.action == "auth.failed"]
        assert audit.verify(db, audit.SYSTEM_TENANT).ok
    assert tenants.audit_verify(engine, audit.SYSTEM_TENANT).ok  # operators verify it too
    assert len(tenants.audit_history(engine, audit.SYSTEM_TENANT)) == len(events)
    mine = [e for e in events if e.actor == "client:198.51.100.7"]
    assert len(mine) == 3 and {e.details["via"] for e in mine} == {"tenant_key"}
    dumped = json.dumps([e.details for e in events]) + "".join(e.actor for e in events)
    assert not any(g in dumped for g in guesses)  # the guess is never recorded


async def test_guessing_the_operator_key_is_stopped(client_from: Client, engine: Engine) -> None:
    attacker = client_from("198.51.100.20")
    codes = [(await attacker.post("/api/v1/tenants", json={"name": f"x{i}"},
                                  headers={"Authorization": f"Bearer op-guess-{i}"})).status_code
             for i in range(4)]
    assert codes == [401, 401, 401, 429]
    with session_scope(engine) as db:
        assert db.exec(select(Tenant).where(Tenant.name == "x0")).first() is None
        vias = {e.details["via"] for e in audit.history(db, audit.SYSTEM_TENANT)}
    assert "operator_key" in vias


async def test_console_sign_in_is_rate_limited(client_from: Client) -> None:
    browser = client_from("198.51.100.30")
    page = await browser.get("/signin")
    csrf = CSRF.findall(page.text)[0]
    codes = []
    for i in range(5):
        resp = await browser.post("/signin", data={"api_key": f"bvk_try{i}", "csrf_token": csrf})
        codes.append(resp.status_code)
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert "Too many" in resp.text and resp.headers["content-type"].startswith("text/html")
    assert "bvk_try4" not in resp.text
    _limited(resp)


async def test_callback_floods_are_rate_limited(client_from: Client) -> None:
    flood = client_from("198.51.100.40")
    codes = [(await flood.post("/api/v1/wallets/_post-process", json={"token": "x"})).status_code
             for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]  # a wrong token each


async def test_on_demand_checks_are_limited_per_tenant(
        client_from: Client, settings: Settings) -> None:
    http = client_from("198.51.100.50")
    operator = {"Authorization": f"Bearer {settings.operator_api_key}"}
    one = await create_tenant(http, operator, "one")
    two = await create_tenant(http, operator, "two")
    codes = [(await http.post("/api/v1/wallet/_refresh", headers=one.headers)).status_code
             for _ in range(2)]
    assert codes == [200, 200]
    _limited(await http.post(f"/api/v1/wallets/{one.id}/_refresh", headers=one.headers))
    other_ip = client_from("198.51.100.51")  # per tenant, not per address
    _limited(await other_ip.post("/api/v1/wallet/_refresh", headers=one.headers))
    assert (await http.post("/api/v1/wallet/_refresh", headers=two.headers)).status_code == 200


async def test_bodies_are_bounded_before_parsing(
        client_from: Client, settings: Settings, engine: Engine) -> None:
    http = client_from("198.51.100.60")
    operator = {"Authorization": f"Bearer {settings.operator_api_key}"}
    big = json.dumps({"name": "big", "pad": "x" * 10_000})
    declared = await http.post("/api/v1/tenants", content=big,
                               headers={**operator, "Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"] == {
        "code": "PAYLOAD_TOO_LARGE", "field": "body",
        "message": "the request body is larger than the limit of 4096 bytes"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the bytes are counted
        for _ in range(20):
            yield b" " * 1024
        yield big.encode()
    streamed = await http.post("/api/v1/tenants", content=chunks(),
                               headers={**operator, "Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert "content-length" not in {
        k.lower() for k in streamed.request.headers}
    callback = await http.post("/api/v1/wallets/_post-process", content=chunks(),
                               headers={"Content-Type": "application/json"})
    assert callback.status_code == 413
    form = await http.post("/signin", content=b"api_key=" + b"a" * 8000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 413
    with session_scope(engine) as db:
        assert db.exec(select(Tenant).where(Tenant.name == "big")).first() is None
    ok = await http.post("/api/v1/tenants", json={"name": "small"}, headers=operator)
    assert ok.status_code == 201


def test_the_window_slides_and_keys_are_bounded() -> None:
    now = [1000.0]
    store = MemoryStore(max_keys=2, clock=lambda: now[0])
    assert [store.hit("a", 2, 60) for _ in range(2)] == [None, None]
    assert store.hit("a", 2, 60) == pytest.approx(60)
    now[0] += 30
    assert store.hit("a", 2, 60) == pytest.approx(30)
    now[0] += 31  # the first two fell out of the window
    assert store.hit("a", 2, 60) is None
    store.hit("b", 2, 60)
    store.hit("c", 2, 60)  # "a" was least recently used: dropped, memory stays bounded
    assert set(store._hits) == {"b", "c"}


def test_a_chunked_body_under_uvicorn_is_cut_off_at_the_limit(live_server: Any) -> None:
    """Over a real socket, chunked (no Content-Length), far more than the limit: 413 arrives
    while the client is still sending, and the server is fine afterwards."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(live_server.url)
    limit = live_server.settings.max_body_bytes
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/wallets/_post-process HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        sent = 0
        try:
            while sent < 64 * limit:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection on us: the point
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"PAYLOAD_TOO_LARGE" in reply
    assert sent < 64 * limit  # cut off long before the whole body was taken
    ok = httpx.post(f"{live_server.url}/api/v1/wallets/_post-process", json={"token": "x"})
    assert ok.status_code == 401
