"""The worker: builds the clients and registers every workflow and activity class."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.aws import AwsClients
from activities.callbacks import CallbackActivities
from activities.catalog import CatalogActivities
from activities.health import KeyHealthActivities
from activities.health_schedule import HealthScheduleActivities
from activities.kms import KmsActivities
from activities.notify import NotifyActivities
from activities.storage import FileStore, S3Store, VaultStore
from activities.sts import StsActivities
from activities.vault import VaultActivities
from byok.db import make_engine, migrate
from byok.keycache import KeyCache
from byok.settings import Settings, load_settings
from byok.temporal import connect
from workflows.alert_delivery import AlertDeliveryWorkflow
from workflows.backup import BackupWorkflow
from workflows.enable_byok import EnableByokWorkflow
from workflows.health_sweep import HealthSweepWorkflow
from workflows.key_health import KeyHealthWorkflow
from workflows.migrate_byok import MigrateByokWorkflow
from workflows.restore import RestoreWorkflow

WORKFLOWS = [EnableByokWorkflow, MigrateByokWorkflow, BackupWorkflow, RestoreWorkflow,
             KeyHealthWorkflow, HealthSweepWorkflow, AlertDeliveryWorkflow]


def vault_store(settings: Settings, aws: AwsClients) -> VaultStore:
    if settings.vault_backend == "s3":
        return S3Store(aws.service("s3"), settings.vault_bucket)
    return FileStore(settings.vault_dir)


def key_cache(settings: Settings) -> KeyCache:
    return KeyCache(max_age=settings.keycache_max_age_seconds,
                    max_uses=settings.keycache_max_uses,
                    max_entries=settings.keycache_max_entries)


def activities(settings: Settings, engine: Engine, aws: AwsClients) -> list[Callable[..., Any]]:
    """Every activity of every class, each class built once with its clients."""
    classes = [
        AuditActivities(engine),
        CatalogActivities(engine, settings),
        StsActivities(aws, engine),
        KmsActivities(aws, engine),
        CallbackActivities(settings),
        VaultActivities(aws, engine, settings, vault_store(settings, aws), key_cache(settings)),
        KeyHealthActivities(aws, engine, settings, vault_store(settings, aws)),
        NotifyActivities(engine, settings),
        HealthScheduleActivities(settings),
    ]
    out: list[Callable[..., Any]] = []
    for instance in classes:
        for name in dir(type(instance)):
            fn = getattr(instance, name)
            if hasattr(fn, "__temporal_activity_definition"):
                out.append(fn)
    return out


def build_worker(client: Client, settings: Settings, engine: Engine, aws: AwsClients,
                 executor: ThreadPoolExecutor) -> Worker:
    return Worker(client, task_queue=settings.task_queue, workflows=WORKFLOWS,
                  activities=activities(settings, engine, aws), activity_executor=executor,
                  max_concurrent_activities=64)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    engine = make_engine(settings.db_url)
    migrate(engine)
    aws = AwsClients(settings)
    if settings.aws_endpoint_url:
        from starter.bootstrap import ensure_service_resources
        ensure_service_resources(aws, settings)
    client = await connect(settings)
    with ThreadPoolExecutor(max_workers=64) as executor:
        worker = build_worker(client, settings, engine, aws, executor)
        print(f"worker ready on task queue {settings.task_queue}", flush=True)
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
