"""The stack-callback consumer: long-polls the SQS queue that our SNS topic feeds and routes
each custom-resource request (control/callbacks.py). Run as its own process (`byok consumer`);
any number may run side by side, SQS hands each message to one of them."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client

from byok import connection_template
from byok.aws import AwsClients
from byok.custom_resource import MalformedRequest, parse_message, response_url_allowed
from byok.settings import Settings
from control import connections
from control.callbacks import Outcome, deliver

log = logging.getLogger(__name__)

WAIT_SECONDS = 20  # the SQS maximum: short polls can come back empty while messages exist
BATCH = 10
# Long enough for one delivery (DB + a Temporal update + a PUT); a consumer that dies holding
# a message lets it come back after this, to another consumer.
VISIBILITY_SECONDS = 60


class CallbackConsumer:
    def __init__(self, client: Client, engine: Engine, settings: Settings, sqs: Any,
                 aws: AwsClients | None = None, *,
                 latency: Callable[[float], object] | None = None):
        self.client, self.engine, self.settings, self.sqs = client, engine, settings, sqs
        self._aws = aws  # proves connection roles; made on first need
        self._url = ""
        # Seconds from the stack's request (its SNS Timestamp) until the workflow held it.
        self.latency = latency

    @property
    def aws(self) -> AwsClients:
        if self._aws is None:
            self._aws = AwsClients(self.settings)
        return self._aws

    def queue_url(self) -> str:
        if not self._url:
            self._url = str(self.sqs.get_queue_url(
                QueueName=self.settings.callback_queue_name)["QueueUrl"])
        return self._url

    async def poll_once(self, wait_seconds: int = WAIT_SECONDS) -> list[Outcome]:
        """One long poll; every message handled is deleted, the rest come back later (and go
        to the dead-letter queue after the queue's maxReceiveCount)."""
        url = self.queue_url()
        answer = await asyncio.to_thread(
            self.sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=wait_seconds, VisibilityTimeout=VISIBILITY_SECONDS)
        outcomes = []
        for msg in answer.get("Messages", []):
            outcome = await self._handle(msg)
            if outcome is not None:
                outcomes.append(outcome)
                await asyncio.to_thread(self.sqs.delete_message, QueueUrl=url,
                                        ReceiptHandle=msg["ReceiptHandle"])
        return outcomes

    async def _handle(self, msg: dict[str, Any]) -> Outcome | None:
        try:
            request = parse_message(msg["Body"])
        except MalformedRequest as exc:
            # Nothing to answer (no usable ResponseURL): dropped, never put back forever.
            log.warning("dropped a queue message that is not a stack request: %s", exc)
            return Outcome(None, delivered=False, reason=str(exc))
        try:
            # Routed by the custom resource's `kind` (a forged URL still goes to deliver,
            # which drops it unanswered).
            if request.properties.get("kind") == connection_template.KIND and \
                    response_url_allowed(request.response_url, self.settings.aws_endpoint_url):
                tenant, status, reason = await connections.deliver(
                    self.engine, self.settings, self.aws, request)
                return Outcome(tenant, delivered=False, answered=status, reason=reason)
            outcome = await deliver(self.client, self.engine, self.settings, request)
        except Exception:
            # Temporal, the database or the ResponseURL failing: the message comes back.
            log.exception("stack request %s not delivered yet; it will come back",
                          request.request_id)
            return None
        if outcome.delivered and self.latency is not None and request.published_at:
            self.latency(_seconds_since(request.published_at))
        return outcome

    async def run(self, stop: asyncio.Event, wait_seconds: int = WAIT_SECONDS) -> None:
        """Poll until `stop` is set (a poll in flight finishes first, at most wait_seconds)."""
        while not stop.is_set():
            try:
                await self.poll_once(wait_seconds)
            except Exception:
                log.exception("the callback queue could not be read; retrying")
                await asyncio.sleep(5)


def _seconds_since(timestamp: str) -> float:
    sent = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - sent).total_seconds())


async def main() -> None:
    from byok.db import make_engine
    from byok.settings import load_settings
    from byok.temporal import connect

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from byok.errors import InvalidSettings
    from runtime.telemetry import consumer_telemetry

    settings = load_settings()
    engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
    try:
        telemetry, latency = consumer_telemetry(settings)
    except InvalidSettings as exc:
        # Delivering callbacks matters more than counting them: run on without metrics.
        log.warning("%s; the consumer runs without a metrics endpoint", exc.message)
        telemetry, latency = consumer_telemetry(settings.model_copy(
            update={"consumer_metrics_port": 0}))
    aws = AwsClients(settings)
    consumer = CallbackConsumer(await connect(settings, runtime=telemetry.runtime), engine,
                                settings, aws.service("sqs"), aws, latency=latency)
    if telemetry.metrics_url:
        print(f"Consumer metrics  {telemetry.metrics_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"consumer ready on queue {consumer.queue_url()}", flush=True)
    await consumer.run(stop)


if __name__ == "__main__":
    asyncio.run(main())
