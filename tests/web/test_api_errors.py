"""Bad input gets a 4xx naming the field and the problem, never a 5xx, and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok.db import session_scope
from byok.models import EnableToken, Wallet
from tests.conftest import OTHER_ACCOUNT, TENANT_ACCOUNT
from tests.web.conftest import NewTenant

OK = {"account": TENANT_ACCOUNT, "accept_irretrievable": True, "accept_immutable": True}
CASES: list[tuple[str, Any, int, str]] = [
    ("malformed JSON", b'{"account": ', 422, "body"),
    ("not an object", b"[1, 2]", 422, "body"),
    ("empty body", b"", 422, "body"),
    ("account wrong type", {**OK, "account": 444455556666}, 422, "account"),
    ("ack wrong type", {**OK, "accept_immutable": "maybe"}, 422, "accept_immutable"),
    ("unknown field", {**OK, "key_id": "mrk-1"}, 422, "key_id"),
    ("huge string", {**OK, "account": "4" * 100_000}, 422, "account"),
    ("body over the limit", {**OK, "account": "4" * 1_000_000}, 413, "body"),
    ("11 digits", {**OK, "account": "12345678901"}, 422, "account"),
    ("letters", {**OK, "account": "abcdefghijkl"}, 422, "account"),
    ("not connected", {**OK, "account": OTHER_ACCOUNT}, 422, "account"),
    ("missing acknowledgement", {**OK, "accept_irretrievable": False}, 422,
     "accept_irretrievable"),
    ("missing field", {"account": TENANT_ACCOUNT, "accept_immutable": True}, 422,
     "accept_irretrievable"),
]


@pytest.mark.parametrize(("body", "status", "field"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
async def test_enable_bad_input(client: httpx.AsyncClient, new_tenant: NewTenant,
                                engine: Engine, body: Any, status: int, field: str) -> None:
    tenant = await new_tenant()
    headers = tenant.headers | {"Content-Type": "application/json"}
    if isinstance(body, bytes):
        resp = await client.post("/api/v1/wallet", content=body, headers=headers)
    else:
        resp = await client.post("/api/v1/wallet", json=body, headers=headers)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["field"] == field and error["message"]
    assert len(resp.text) < 5000  # the input is never echoed back
    with session_scope(engine) as session:
        assert session.get(Wallet, tenant.id) is None
        assert not session.exec(select(EnableToken)).all()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/connections", {"account_id": "123", "regions": ["us-east-1"]}, "account_id"),
    ("/api/v1/connections", {"account_id": TENANT_ACCOUNT, "regions": ["mars-1"]}, "regions"),
    ("/api/v1/connections", {"account_id": TENANT_ACCOUNT, "regions": []}, "regions"),
    ("/api/v1/connections", {"account_id": TENANT_ACCOUNT, "regions": "us-east-1"}, "regions"),
    ("/api/v1/connections", {"account_id": TENANT_ACCOUNT, "regions": ["x" * 5000]},
     "regions.0"),
])
async def test_connection_bad_input(client: httpx.AsyncClient, new_tenant: NewTenant,
                                    path: str, body: Any, field: str) -> None:
    tenant = await new_tenant()
    resp = await client.post(path, json=body, headers=tenant.headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field


async def test_query_path_and_callback_bad_input(client: httpx.AsyncClient,
                                                 new_tenant: NewTenant) -> None:
    tenant = await new_tenant()
    resp = await client.get("/api/v1/audit?limit=0", headers=tenant.headers)
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "limit"
    resp = await client.get("/api/v1/audit?limit=abc", headers=tenant.headers)
    assert resp.status_code == 422
    resp = await client.get("/api/v1/templates/byok-v9.yaml")
    assert resp.status_code == 404 and resp.json()["error"]["field"] == "version"
    resp = await client.get("/api/v1/templates/byok-vx.yaml")
    assert resp.status_code in (404, 422)
    for payload in ({}, {"token": "x" * 36}, {"token": ["a"]}):
        resp = await client.post("/api/v1/wallets/_post-process", json=payload)
        assert resp.status_code == 401 and resp.json()["error"]["field"] == "token"
    resp = await client.post("/api/v1/wallets/_post-process", content=b"nope",
                             headers={"Content-Type": "application/json"})
    assert resp.status_code == 422
    resp = await client.get("/api/v1/nowhere")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "NOT_FOUND"
