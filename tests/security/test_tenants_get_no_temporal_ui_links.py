"""Attack: a tenant follows the console's "view this run" link into the raw Temporal UI, an
operator tool that lists every tenant's runs (and, with the codec, their payloads). Tenants
see progress from the console and the API; no tenant-facing page or response names the UI."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.engine import Engine

from byok.settings import Settings
from tests.web.conftest import create_tenant
from tests.web.test_api_enable import enable_via_api
from tests.web.test_console import sign_in
from web.app import create_app

UI = "http://temporal-ui.ops.internal:8233"


async def test_no_tenant_page_or_response_links_the_temporal_ui(
        settings: Settings, engine: Engine, temporal_env: Any, worker: Any,
        operator: dict[str, str]) -> None:
    app = create_app(settings.model_copy(update={"temporal_ui_url": UI}))
    app.state.temporal = temporal_env.client
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://byok.test") as client:
        tenant = await create_tenant(client, operator, "acme")
        wallet = await enable_via_api(client, tenant, settings)
        assert wallet["workflow_id"]  # there is a run an old console would have linked
        seen: dict[str, str] = {
            "GET /api/v1/wallet": (await client.get("/api/v1/wallet",
                                                    headers=tenant.headers)).text,
            "POST /api/v1/wallet/_refresh": (await client.post(
                "/api/v1/wallet/_refresh", headers=tenant.headers)).text,
            "GET /api/v1/health": (await client.get("/api/v1/health",
                                                    headers=tenant.headers)).text,
            "GET /openapi.json": (await client.get("/openapi.json")).text,
        }
        await sign_in(client, tenant)
        for page in ("encryption-key", "encryption-key/progress",
                     "health", "audit", "backups", "api-keys"):
            resp = await client.get(f"/t/{tenant.id}/{page}")
            assert resp.status_code == 200, (page, resp.status_code)
            seen[f"GET /t/.../{page}"] = resp.text
        assert "Enabled" in seen["GET /t/.../encryption-key/progress"]  # progress, in-console
    leaks = {where: body for where, body in seen.items()
             if "temporal-ui.ops.internal" in body or "Temporal UI" in body
             or "temporal_ui_url" in body or "/namespaces/" in body}
    assert not leaks, sorted(leaks)
