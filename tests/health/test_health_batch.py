"""Batch checks (requests per tenant-region, resuming from a heartbeat), missed checks and the
TenantId of every health workflow."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.common import SearchAttributeKey
from temporalio.testing import ActivityEnvironment

from activities.health import KeyHealthActivities
from byok.db import session_scope
from byok.health_messages import BatchInput, HealthCheckInput, SweepInput
from byok.models import AuditEvent, TenantHealth
from byok.settings import Settings
from starter.health_seed import REGIONS, seed_tenant
from worker import vault_store
from workflows.health_sweep import HealthSweepWorkflow
from workflows.key_health import KeyHealthWorkflow

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")


def checks(engine: Engine) -> dict[str, TenantHealth]:
    with session_scope(engine) as session:
        return {h.tenant_id: h for h in session.exec(select(TenantHealth)).all()}


def missed(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(AuditEvent).where(
            AuditEvent.action == "key_health.check_missed")).all())


async def test_batch_costs_under_three_requests_per_region_and_resumes(
        engine: Engine, settings: Settings, aws: Any) -> None:
    tenants = [seed_tenant(engine, settings, n, prefix="batch") for n in range(4)]
    acts = KeyHealthActivities(aws, engine, settings, vault_store(settings, aws))
    env = ActivityEnvironment()
    # A retried batch: its heartbeat says the first tenant is stored already.
    env.info = dataclasses.replace(env.info, heartbeat_details=[
        {"checked": 1, "recorded": [tenants[0]], "db_writes": 4}])
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    before = sum(sum(c.values()) for c in aws.requests.values())
    described = aws.requests["kms"]["DescribeKey"]  # the service's own setup described some
    out = env.run(acts.check_health_batch, BatchInput(tenants, "b-1"))
    sent = sum(sum(c.values()) for c in aws.requests.values()) - before
    assert out.checked == 4 and out.deferred == [] and out.alerts == []
    assert set(checks(engine)) == set(tenants[1:])  # the stored one was not checked again
    assert sent / (3 * len(REGIONS)) <= 3  # AssumeRole, ExternalId probe, 2 per region
    assert aws.requests["kms"]["DescribeKey"] == described  # only a failing key pays for it
    assert out.db_writes == 4 + 3 * (1 + len(REGIONS)) and beats  # 1 + regions per tenant
    assert all(checks(engine)[t].last_check_id == f"b-1/{t}" for t in tenants[1:])


async def test_a_check_no_worker_starts_is_reported_missed(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, worker: Any) -> None:
    tenant = seed_tenant(engine, settings, 0, prefix="starved")
    out = await temporal_env.client.execute_workflow(
        KeyHealthWorkflow.run, HealthCheckInput(tenant, "test", task_queue="nobody-polls",
                                                schedule_to_start_seconds=30),
        id=f"check-{secrets.token_hex(4)}", task_queue=settings.task_queue)
    assert not out.checked and "no worker started the check within 30s" in out.error
    [event] = missed(engine)
    assert event.tenant_id == tenant and event.details["task_queue"] == "nobody-polls"
    assert checks(engine) == {}  # no health is made up from a check that never ran


async def test_sweep_reports_a_starved_batch_and_finishes(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, worker: Any) -> None:
    tenants = [seed_tenant(engine, settings, n, prefix="starved") for n in range(2)]
    result = await temporal_env.client.execute_workflow(
        HealthSweepWorkflow.run, SweepInput(batch_size=5, task_queue="nobody-polls",
                                            schedule_to_start_seconds=30),
        id="sweep-starved", task_queue=settings.task_queue)
    assert (result.checked, result.missed) == (0, 2)
    assert sorted(e.tenant_id for e in missed(engine)) == tenants


async def test_every_health_workflow_carries_its_tenant_id(hooks: Any, root: Any) -> None:
    await hooks.check()
    root("kms", "eu-west-1").disable_key(KeyId=hooks.region("eu-west-1")["key_arn"]
                                         .rsplit("/", 1)[-1])
    out = await hooks.check()
    alert = hooks.env.client.get_workflow_handle(f"alert-{out.alert_id}")
    assert (await alert.describe()).typed_search_attributes[TENANT_ID] == hooks.tenant_id
