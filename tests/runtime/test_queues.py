"""Separate task queues: with every transfer slot busy, control work still runs."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.worker import Worker

import worker as worker_module
from activities.storage import FileStore
from activities.vault import VaultActivities
from byok import crud
from byok.db import session_scope
from byok.settings import Settings
from byok.temporal import TENANT_ID
from control.backups import start_backup
from control.catalog import list_backups
from control.checks import check_health
from control.enablement import start_enable
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from tests.lazy import lazy


class _HeldWriter:
    """Holds the transfer inside the real write_backup (heartbeating, as a slow upload
    would) until the test lets it go."""

    def __init__(self, inner: Any, entered: threading.Semaphore, release: threading.Event):
        self.inner, self.entered, self.release, self.held = inner, entered, release, False

    def write(self, data: bytes) -> None:
        if not self.held:
            self.held = True
            self.entered.release()
            while not self.release.wait(0.2):
                activity.heartbeat()
        self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _HeldStore(FileStore):
    def __init__(self, root: Path, entered: threading.Semaphore, release: threading.Event):
        super().__init__(root)
        self.entered, self.release = entered, release

    def writer(self, key: str, resume: Any = None) -> Any:
        return _HeldWriter(super().writer(key, resume), self.entered, self.release)


async def test_a_full_transfer_queue_does_not_starve_control_work(
        temporal_env: Any, settings: Settings, engine: Engine, aws: Any,
        tmp_path: Path) -> None:
    settings = settings.model_copy(update={"transfer_slots": 1, "worker_queues": "control"})
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT,
                             regions=["us-east-1"])
        tenant = t.id
    (tmp_path / "src").write_bytes(b"x" * (3 << 20))
    entered, release = threading.Semaphore(0), threading.Event()
    held = VaultActivities(aws, engine, settings, _HeldStore(settings.vault_dir, entered, release),
                           worker_module.key_cache(settings))

    async def backup() -> dict[str, Any]:
        return dict(await start_backup(
            engine, settings, lazy(temporal_env.client), tenant=tenant, workload="ebs",
            source=f"file://{tmp_path / 'src'}", region=None, actor="test"))

    with ThreadPoolExecutor(max_workers=16) as executor:
        control = worker_module.build_worker(temporal_env.client, settings, engine, aws, executor)
        transfer = Worker(temporal_env.client, task_queue=settings.transfer_task_queue,
                          activities=[held.write_backup], activity_executor=executor,
                          max_concurrent_activities=settings.transfer_slots)
        async with control, transfer:
            first, second = await backup(), await backup()
            try:
                assert await asyncio.to_thread(entered.acquire, True, 30)
                # The one transfer slot is busy and a second backup waits behind it: a key
                # health check and an enablement's first steps run meanwhile.
                view = await asyncio.wait_for(
                    check_health(engine, settings, lazy(temporal_env.client), tenant, "test"), 60)
                assert view["check"]["checked"] is True, view["check"]
                issued = await asyncio.wait_for(start_enable(
                    engine, settings, lazy(temporal_env.client), tenant=tenant,
                    account=TENANT_ACCOUNT,
                    accept_irretrievable=True, accept_immutable=True, actor="test"), 30)
                assert await _preflight_done(temporal_env, issued.workflow_id)
                assert not entered.acquire(timeout=0.5)  # the second backup has not begun
                states = {b["id"]: b["status"] for b in list_backups(engine, tenant)}
                assert states == {first["backup_id"]: "pending", second["backup_id"]: "pending"}
            finally:
                release.set()
            for started in (first, second):
                handle = temporal_env.client.get_workflow_handle(started["workflow_id"])
                await handle.result()
                desc = await handle.describe()  # TenantId was set at start
                assert desc.typed_search_attributes[TENANT_ID] == tenant
    states = {b["id"]: b["status"] for b in list_backups(engine, tenant)}
    assert set(states.values()) == {"complete"}


async def _preflight_done(env: Any, workflow_id: str, timeout: float = 30) -> bool:
    """The enablement ran its first activity (the preflight, on the control queue)."""
    deadline = asyncio.get_running_loop().time() + timeout
    handle = env.client.get_workflow_handle(workflow_id)
    while asyncio.get_running_loop().time() < deadline:
        history = await handle.fetch_history()
        if any(e.HasField("activity_task_completed_event_attributes") for e in history.events):
            return True
        await asyncio.sleep(0.2)
    return False
