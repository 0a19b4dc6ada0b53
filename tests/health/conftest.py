"""Key-health fixtures: an Enabled tenant, the tenant's own AWS hands, checks and a webhook."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from byok import health_alerts
from byok.db import session_scope
from byok.health_messages import HealthCheckInput, HealthOutcome
from byok.models import AlertDelivery, AuditEvent, HealthAlert, Tenant
from byok.settings import Settings
from tests.conftest import TENANT_ACCOUNT
from tests.workflows.conftest import (  # noqa: F401
    consumer,
    deploy,
    enable,
    enabled,
    tenant,
)
from workflows.key_health import KeyHealthWorkflow


class Hooks:
    """What a test needs around one tenant: run a check, read health, alerts and audit."""

    def __init__(self, env: Any, engine: Engine, settings: Settings, tenant_id: str):
        self.env, self.engine, self.settings, self.tenant_id = env, engine, settings, tenant_id

    async def check(self, force_drill: bool = False) -> HealthOutcome:
        return await self.env.client.execute_workflow(
            KeyHealthWorkflow.run, HealthCheckInput(self.tenant_id, "test", force_drill),
            id=f"check-{secrets.token_hex(4)}", task_queue=self.settings.task_queue)

    def view(self) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            return health_alerts.view(session, self.tenant_id, alerts=100)

    def region(self, name: str, generation: int | None = None) -> dict[str, Any]:
        rows = [r for r in self.view()["regions"] if r["region"] == name
                and (generation is None or r["generation"] == generation)]
        return rows[0]

    def alerts(self) -> list[HealthAlert]:
        with session_scope(self.engine) as session:
            return list(session.exec(select(HealthAlert).where(
                HealthAlert.tenant_id == self.tenant_id)
                .order_by(col(HealthAlert.created_at))).all())

    def audit(self, action: str) -> list[AuditEvent]:
        with session_scope(self.engine) as session:
            return list(session.exec(select(AuditEvent).where(
                AuditEvent.tenant_id == self.tenant_id, AuditEvent.action == action)).all())

    def deliveries(self, alert_id: str) -> list[AlertDelivery]:
        with session_scope(self.engine) as session:
            return list(session.exec(select(AlertDelivery).where(
                AlertDelivery.alert_id == alert_id).order_by(col(AlertDelivery.id))).all())

    def set_webhook(self, url: str | None) -> None:
        with session_scope(self.engine) as session:
            t = session.get(Tenant, self.tenant_id)
            assert t is not None
            t.webhook_url = url
            session.add(t)

    async def delivered(self, alert_id: str) -> Any:
        """Skip time over the retry backoff until the delivery workflow closes."""
        from datetime import timedelta

        from temporalio.client import WorkflowExecutionStatus

        from workflows.alert_delivery import AlertDeliveryWorkflow

        handle = self.env.client.get_workflow_handle_for(AlertDeliveryWorkflow.run,
                                                         f"alert-{alert_id}")
        for _ in range(200):
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                return await handle.result()
            await self.env.sleep(timedelta(seconds=20))
        raise AssertionError(f"alert {alert_id} still being delivered")


@pytest.fixture
async def hooks(temporal_env: Any, engine: Engine, settings: Settings, tenant: str,  # noqa: F811
                enabled: Callable[..., Any]) -> Hooks:  # noqa: F811
    await enabled(tenant)
    return Hooks(temporal_env, engine, settings, tenant)


@pytest.fixture
def root(settings: Settings) -> Callable[..., Any]:
    """The tenant acting in its own account (root), to break and mend things."""

    def client(name: str, region: str = "us-east-1") -> Any:
        session = boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local")
        return session.client(
            name, region_name=region, endpoint_url=settings.aws_endpoint_url)
    return client


class Webhook:
    """A local endpoint that fails the first `fail` POSTs (HTTP 503), then takes them."""

    def __init__(self) -> None:
        self.fail, self.refused = 0, 0
        self.received: list[tuple[dict[str, str], Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.refused < hook.fail:
                    hook.refused += 1
                    self.send_response(503)
                else:
                    hook.received.append((dict(self.headers), json.loads(body)))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/byok-alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def backup(temporal_env: Any, engine: Engine, settings: Settings, tmp_path: Any,
           tenant: str) -> Callable[..., Any]:  # noqa: F811
    """Back up a few bytes for the tenant (raises our ByokError when refused)."""
    from control.backups import run_backup
    from tests.lazy import lazy

    async def run(region: str = "us-east-1", workload: str = "vmware_vm",
                  size: int = 5000) -> dict[str, Any]:
        src = tmp_path / f"src-{secrets.token_hex(4)}.bin"
        src.write_bytes(secrets.token_bytes(size))
        return await run_backup(engine, settings, lazy(temporal_env.client),
                                tenant=tenant,
                                workload=workload, source=f"file://{src}",
                                region=region, actor="test")
    return run
