"""FastAPI application factory: builds settings, database and Temporal client once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from byok.db import make_engine, migrate
from byok.errors import ByokError, Conflict, InvalidInput, NotFound, Unauthorized
from byok.settings import Settings, load_settings
from web import api, health

STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, Unauthorized: 401}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = make_engine(settings.db_url)
    migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="byok-vault", version="0.1.0", lifespan=lifespan,
                  description="Bring-your-own-key control plane for backups.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.temporal = None
    app.include_router(health.router)
    app.include_router(api.router, prefix="/api/v1")

    @app.exception_handler(ByokError)
    async def byok_error(_request: Request, exc: ByokError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 502)
        return JSONResponse({"error": exc.to_dict()}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"),
                   "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": {"code": "INVALID_INPUT", "message": "invalid request",
                                       "fields": errors}}, status_code=422)

    return app
