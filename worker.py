"""The worker: builds the clients and registers every workflow and activity class, on the
control queue and the transfer queue (each with its own slots), and drains on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from activities.audit import AuditActivities
from activities.callbacks import CallbackActivities
from activities.catalog import CatalogActivities
from activities.health import KeyHealthActivities
from activities.health_schedule import HealthScheduleActivities
from activities.kms import KmsActivities
from activities.notify import NotifyActivities
from activities.storage import FileStore, S3Store, VaultStore
from activities.sts import StsActivities
from activities.vault import VaultActivities
from byok import startup
from byok.audit_anchor import anchor_store
from byok.aws import AwsClients
from byok.db import make_engine, migrate
from byok.errors import InvalidSettings
from byok.keycache import KeyCache
from byok.settings import Settings, load_settings
from byok.temporal import connect
from runtime.drain import run_until_signalled
from runtime.telemetry import build_telemetry
from workflows.alert_delivery import AlertDeliveryWorkflow
from workflows.audit_anchor import AuditAnchorWorkflow, ensure_anchor_schedule
from workflows.backup import BackupWorkflow
from workflows.enable_byok import EnableByokWorkflow
from workflows.health_sweep import HealthSweepWorkflow
from workflows.key_health import KeyHealthWorkflow
from workflows.migrate_byok import MigrateByokWorkflow
from workflows.restore import RestoreWorkflow

WORKFLOWS = [EnableByokWorkflow, MigrateByokWorkflow, BackupWorkflow, RestoreWorkflow,
             KeyHealthWorkflow, HealthSweepWorkflow, AlertDeliveryWorkflow, AuditAnchorWorkflow]
# The activities that move a backup's bytes: the only ones on the transfer queue.
TRANSFER_ACTIVITIES = {"write_backup", "read_restore"}


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
        AuditActivities(engine, anchor_store(settings, aws)),
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


def activity_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__temporal_activity_definition").name)


class WorkerGroup:
    """The workers of one process, one per polled queue, started and stopped together."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)

    async def __aenter__(self) -> WorkerGroup:
        for w in self.workers:
            await w.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.gather(*(w.__aexit__(exc_type, exc, tb) for w in self.workers))


def build_worker(client: Client, settings: Settings, engine: Engine, aws: AwsClients,
                 executor: ThreadPoolExecutor, *,
                 interceptors: Sequence[Interceptor] = ()) -> WorkerGroup:
    """Control queue: every workflow and every activity (the transfer ones too, for runs
    that scheduled them there before the queues split); transfer queue: the transfers."""
    acts = activities(settings, engine, aws)
    common: dict[str, Any] = {
        "activity_executor": executor, "interceptors": list(interceptors),
        "graceful_shutdown_timeout": timedelta(seconds=settings.worker_shutdown_seconds),
        # A transfer's checkpoint must reach the server within about one heartbeat interval
        # (the SDK would otherwise hold heartbeats back for 0.8 x the heartbeat timeout).
        "max_heartbeat_throttle_interval": timedelta(
            seconds=max(settings.transfer_checkpoint_seconds, 0.1))}
    workers = []
    if "control" in settings.polled_queues:
        workers.append(Worker(client, task_queue=settings.task_queue, workflows=WORKFLOWS,
                              activities=acts, max_concurrent_activities=settings.control_slots,
                              **common))
    if "transfer" in settings.polled_queues:
        workers.append(Worker(client, task_queue=settings.transfer_task_queue,
                              activities=[a for a in acts
                                          if activity_name(a) in TRANSFER_ACTIVITIES],
                              max_concurrent_activities=settings.transfer_slots, **common))
    return WorkerGroup(workers)


def _queues(settings: Settings) -> str:
    out = []
    if "control" in settings.polled_queues:
        out.append(f"{settings.task_queue} (control, {settings.control_slots} slots)")
    if "transfer" in settings.polled_queues:
        out.append(f"{settings.transfer_task_queue} (transfer, {settings.transfer_slots} slots)")
    return ", ".join(out)


async def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
        telemetry = build_telemetry(settings)
    except InvalidSettings as exc:
        print(f"worker: {exc.message}", file=sys.stderr, flush=True)
        return 2
    # The worker listens on nothing: what exposes it is the Temporal server it takes work from.
    startup.exit_if_unsafe(settings, startup.host_of(settings.temporal_address), "the worker")
    engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
    migrate(engine)
    # The service's own resources exist before any worker starts (`byok up` and
    # `byok provision` make them); a worker never provisions.
    aws = AwsClients(settings)
    client = await connect(settings, runtime=telemetry.runtime,
                           interceptors=telemetry.client_interceptors)
    await ensure_anchor_schedule(client, settings)
    # Enough threads for every slot of every queue: a full transfer queue never leaves
    # control activities waiting for a thread.
    threads = settings.control_slots + settings.transfer_slots
    with ThreadPoolExecutor(max_workers=threads) as executor:
        group = build_worker(client, settings, engine, aws, executor,
                             interceptors=telemetry.worker_interceptors)
        if telemetry.metrics_url:
            print(f"Worker metrics  {telemetry.metrics_url}", flush=True)
        print(f"worker ready on task queues {_queues(settings)}", flush=True)
        code = await run_until_signalled(group.workers, settings.worker_shutdown_seconds)
    print(f"worker stopped (exit {code})", flush=True)
    return code


def _exit(code: int) -> None:
    """Leave without interpreter finalization: the SDK's native threads may still release
    the GIL after Python tore its thread states down (a SIGABRT seen at exit). The drain is
    complete and the output flushed by then, so nothing is lost."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(asyncio.run(main()))
