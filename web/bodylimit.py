"""Request bodies are bounded before anything parses them: an ASGI middleware counts the bytes
as they arrive (a missing or false Content-Length does not get past it) and answers 413."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Streamed uploads bound their own size (per tenant, while writing): not these bytes.
STREAMED = ("/api/v1/uploads",)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, streamed: tuple[str, ...] = STREAMED):
        self.app, self.max_bytes, self.streamed = app, max_bytes, streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.streamed):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)  # refused before reading a byte of it
            return
        seen, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer now; the app sees the client gone, and whatever it answers to
                    # that is dropped (exceptions raised here would reach it wrapped).
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)

    async def _refuse(self, send: Send) -> None:
        body: dict[str, Any] = {"error": {"code": "PAYLOAD_TOO_LARGE", "field": "body",
                                          "message": "the request body is larger than the limit "
                                                     f"of {self.max_bytes} bytes"}}
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(raw)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": raw})
