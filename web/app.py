"""FastAPI application factory: builds settings, database and Temporal client once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from byok import startup
from byok.db import make_engine, migrate
from byok.errors import ByokError, Conflict, InvalidInput, NotFound, TooLarge, Unauthorized
from byok.settings import Settings, load_settings
from web import (
    api,
    backups_api,
    bodylimit,
    console,
    console_backups,
    console_connections,
    console_key,
    console_migrate,
    health,
    operator_api,
    pages,
    ratelimit,
    tenant_api,
)
from web.schemas import ErrorOut

STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, Unauthorized: 401, TooLarge: 413}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
HTTP_CODES = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 503: "UNAVAILABLE"}


LIMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "The request body is larger than the limit."},
    429: {"model": ErrorOut, "description": "Rate limited (failed authentications from this "
                                            "client, callbacks, checks); see Retry-After.",
          "headers": {"Retry-After": {"description": "Seconds to wait",
                                      "schema": {"type": "integer"}}}},
}


def _problem(err: Any) -> dict[str, str]:
    if err.get("type") == "json_invalid":  # its loc is a character offset, not a field
        detail = (err.get("ctx") or {}).get("error", "")
        return {"field": "body", "message": f"malformed JSON: {detail}".rstrip(": ")}
    field = ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path"))
    return {"field": field or "body", "message": err["msg"]}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    startup.exit_if_unsafe(settings, settings.web_host, "the web app")  # before any I/O
    engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
    migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="byok-vault", version="0.1.0", lifespan=lifespan,
                  description="Bring-your-own-key control plane for backups. Tenant endpoints "
                              "take a tenant API key, operator endpoints the operator key, "
                              "both as `Authorization: Bearer`.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.temporal = None
    app.state.limiter = ratelimit.Limiter(settings)
    app.include_router(health.router)
    for router in (api.router, operator_api.router, tenant_api.router, backups_api.router):
        app.include_router(router, prefix="/api/v1", responses=LIMIT_RESPONSES)
    app.include_router(console.router)
    app.include_router(console_key.router)
    app.include_router(console_migrate.router)
    app.include_router(console_backups.router)
    app.include_router(console_connections.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    pages.install(app)

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        resp = await call_next(request)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not request.url.path.startswith(("/docs", "/redoc")):  # those load CDN assets
            resp.headers.setdefault("Content-Security-Policy", CSP)
            resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp

    app.add_middleware(bodylimit.BodyLimit, max_bytes=settings.max_body_bytes)  # outermost

    @app.exception_handler(ratelimit.RateLimited)
    async def rate_limited(request: Request, exc: ratelimit.RateLimited) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        if not request.url.path.startswith("/api/"):  # a console form: a page, not JSON
            resp = pages.render(request, "message.html", status_code=429, user=None,
                                title="Too many attempts", message=exc.message.capitalize())
            resp.headers.update(headers)
            return resp
        return JSONResponse({"error": {"code": "RATE_LIMITED", "message": exc.message}},
                            status_code=429, headers=headers)

    @app.exception_handler(ByokError)
    async def byok_error(_request: Request, exc: ByokError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 502)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": exc.to_dict()}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name each field and the problem; never echo the input (it may be huge or secret).
        errors = [_problem(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return JSONResponse({"error": {
            "code": "INVALID_INPUT", "message": f"{first['field']}: {first['message']}",
            "field": first["field"], "fields": errors}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": bad input like any
            return JSONResponse({"error": {
                "code": "INVALID_INPUT", "field": "body",
                "message": "the body could not be parsed: send JSON in UTF-8"}}, status_code=422)
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}},
                            status_code=exc.status_code, headers=exc.headers)

    return app
