"""The consumer's callback-latency histogram: seconds from the stack's request (its SNS
Timestamp) until the waiting workflow held it, on the consumer's Prometheus endpoint."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from byok.settings import Settings
from control.consumer import CallbackConsumer
from runtime.telemetry import consumer_telemetry
from tests.workflows.enable_helpers import terminate, token_row


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _series(text: str, name: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[-1]) for line in text.splitlines()
            if line.startswith(name)}


async def test_a_delivered_callback_records_its_latency(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, tenant: str,
        enable: Any, deploy: Any) -> None:
    port = _free_port()
    telemetry, latency = consumer_telemetry(settings.model_copy(
        update={"consumer_metrics_port": port}))
    assert latency is not None and telemetry.metrics_url == f"http://127.0.0.1:{port}/metrics"
    consumer = CallbackConsumer(temporal_env.client, engine, settings, aws.service("sqs"),
                                latency=latency)
    issued = await enable(tenant)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, wait_seconds=1))
    started = asyncio.get_running_loop().time()
    try:
        await deploy(issued)  # the stack's request goes out through SNS and SQS
        for _ in range(600):
            if token_row(engine, issued.token).used_at is not None:
                break  # the workflow holds the report
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the callback was never delivered")
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        stop.set()
        await task
    text = httpx.get(telemetry.metrics_url, timeout=5, trust_env=False).text
    count = _series(text, "byok_callback_latency_count")
    total = _series(text, "byok_callback_latency_sum")
    assert list(count.values()) == [1.0], text
    [seconds] = total.values()
    # Sane: not negative, and no longer than the deploy took to be delivered here.
    assert 0 < seconds <= elapsed + 1, (seconds, elapsed)
    buckets = _series(text, "byok_callback_latency_bucket")
    assert any('le="3600"' in k and v == 1.0 for k, v in buckets.items()), buckets
    await terminate(temporal_env.client, issued.workflow_id)
