"""BYOK_OTEL_ENDPOINT: workflow and activity spans reach an OTLP/HTTP collector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry import trace
from sqlalchemy.engine import Engine
from temporalio.client import Client

from byok import crud
from byok.db import session_scope
from byok.settings import Settings
from control.checks import check_now
from runtime.tracing import tracing_interceptor
from tests.lazy import lazy
from worker import build_worker


class _Collector(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_spans_of_a_key_health_check_reach_the_collector(
        temporal_env: Any, settings: Settings, engine: Engine, aws: Any,
        collector: str) -> None:
    settings = settings.model_copy(update={"otel_endpoint": collector})
    client = Client(**{**temporal_env.client.config(),
                       "interceptors": [tracing_interceptor(settings)]})
    with session_scope(engine) as session:
        tenant = crud.create_tenant(session, name="acme").id
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with build_worker(client, settings, engine, aws, executor):
            await check_now(engine, settings, lazy(client), tenant, "test")
    provider = trace.get_tracer_provider()
    assert provider.force_flush()  # type: ignore[attr-defined]
    sent = b"".join(body for path, body in _Collector.bodies if path == "/v1/traces")
    for span in (b"StartWorkflow:KeyHealthWorkflow", b"RunWorkflow:KeyHealthWorkflow",
                 b"RunActivity:"):
        assert span in sent, span
    assert b"byok-vault" in sent  # the service name resource
