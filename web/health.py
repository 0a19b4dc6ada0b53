"""/healthz: is each component of the stack reachable?"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from byok.temporal import connect
from web.deps import EngineDep, SettingsDep

router = APIRouter()


@router.get("/healthz", tags=["health"])
async def healthz(request: Request, settings: SettingsDep, engine: EngineDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        if request.app.state.temporal is None:
            request.app.state.temporal = await asyncio.wait_for(connect(settings), 5)
        await asyncio.wait_for(request.app.state.temporal.service_client.check_health(), 5)
        checks["temporal"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["temporal"] = f"error: {type(exc).__name__}"
    if settings.aws_endpoint_url:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                resp = await http.get(f"{settings.aws_endpoint_url}/_localaws/ping")
            checks["aws"] = "ok" if resp.status_code == 200 else f"error: HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            checks["aws"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"ok": ok, "components": checks}, status_code=200 if ok else 503)
