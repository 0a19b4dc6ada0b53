"""The codec server operators point the Temporal UI at (`--ui-codec-endpoint`) to read
payloads: it holds BYOK_PAYLOAD_KEYS, so it listens on loopback and is never exposed to
tenants (the web console shows tenants their progress itself)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from byok.codec import EncryptionCodec, PayloadDecryptError
from byok.settings import Settings

MAX_BODY = 4 << 20  # the UI sends one history page's payloads at a time


def codec_app(settings: Settings) -> FastAPI:
    codec = EncryptionCodec(settings.payload_keys)
    app = FastAPI(title="byok-vault codec server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    # The Temporal UI calls from the operator's browser, from its own origin.
    app.add_middleware(CORSMiddleware, allow_origins=[settings.temporal_ui_url.rstrip("/")],
                       allow_methods=["POST"], allow_headers=["content-type", "x-namespace"],
                       allow_credentials=True)

    async def convert(request: Request, decode: bool) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": f"body over {MAX_BODY} bytes"}, status_code=413)
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
        except json_format.ParseError as exc:
            return JSONResponse({"error": f"not a Payloads JSON document: {exc}"},
                                status_code=400)
        try:
            out = await (codec.decode if decode else codec.encode)(list(payloads.payloads))
        except PayloadDecryptError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        doc: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=out))
        return JSONResponse(doc)

    @app.post("/decode")
    async def decode(request: Request) -> JSONResponse:
        return await convert(request, decode=True)

    @app.post("/encode")
    async def encode(request: Request) -> JSONResponse:
        return await convert(request, decode=False)

    return app
