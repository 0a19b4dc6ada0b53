"""worker.py as a process on the real dev server: SIGTERM drains and exits 0, the backup it
was running completes on the next worker, and the worker serves temporal_* and byok_* metrics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from byok import crud
from byok.codec import data_converter
from byok.db import session_scope
from byok.settings import Settings
from control.backups import start_backup as start_backup_workflow
from control.catalog import list_backups
from starter import up
from tests.conftest import TENANT_ACCOUNT, VENV_BIN
from tests.connect_helpers import request_connection
from tests.lazy import lazy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def dev_server(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    # The same codec as the worker: every payload crosses the server encrypted.
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings.payload_keys),
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword("TenantId"),
                           SearchAttributeKey.for_keyword("WalletState")])
    yield env
    await env.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WorkerProc:
    """One `python worker.py`, its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.metrics_port = free_port()
        env = {**env, "BYOK_WORKER_METRICS_PORT": str(self.metrics_port)}
        self.proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "worker ready" in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> None:
        assert self.ready.wait(90), f"the worker never got ready:\n{self.output}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def spawn(settings: Settings, dev_server: WorkflowEnvironment) -> Iterator[Any]:
    env = up.child_env(settings, os.environ)
    env.update(BYOK_TEMPORAL_ADDRESS=dev_server.client.service_client.config.target_host,
               BYOK_AWS_ENDPOINT_URL=settings.aws_endpoint_url)
    procs: list[WorkerProc] = []

    def start(grace: str = "0") -> WorkerProc:
        procs.append(WorkerProc({**env, "BYOK_WORKER_SHUTDOWN_SECONDS": grace}))
        procs[-1].wait_ready()
        return procs[-1]
    yield start
    for p in procs:
        p.kill()


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def new_tenant(engine: Engine) -> str:
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT,
                             regions=["us-east-1"])
        return t.id


async def start_backup(client: Any, engine: Engine, settings: Settings, tenant: str,
                       src: Path) -> dict[str, Any]:
    started = dict(await start_backup_workflow(engine, settings, lazy(client), tenant=tenant,
                                               workload="ebs", source=f"file://{src}",
                                               region=None, actor="test"))
    vault = settings.vault_dir / tenant
    wait_for(lambda: vault.exists() and any(vault.iterdir()), 60, "the transfer to begin")
    return started


async def test_a_transfer_within_the_grace_finishes_on_the_draining_worker(
        dev_server: WorkflowEnvironment, settings: Settings, engine: Engine, aws: Any,
        spawn: Any, tmp_path: Path) -> None:
    tenant = new_tenant(engine)
    (tmp_path / "src").write_bytes(os.urandom(1 << 20) * 48)
    first = spawn(grace="120")
    started = await start_backup(dev_server.client, engine, settings, tenant, tmp_path / "src")
    signalled = time.time()
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=120) == 0, first.output
    handle = dev_server.client.get_workflow_handle(started["workflow_id"])
    history = await handle.fetch_history()
    [done] = [e for e in history.events if e.HasField("activity_task_completed_event_attributes")]
    assert done.activity_task_completed_event_attributes.identity.startswith(
        f"{first.proc.pid}@")  # the running transfer was let finish, not cancelled...
    assert done.event_time.seconds + done.event_time.nanos / 1e9 > signalled  # ...after it
    spawn()  # the workflow's last step (cataloguing) runs on the next worker
    await handle.result()
    [row] = list_backups(engine, tenant)
    assert row["status"] == "complete"


async def test_sigterm_drains_exits_0_and_the_backup_finishes_on_the_next_worker(
        dev_server: WorkflowEnvironment, settings: Settings, engine: Engine, aws: Any,
        spawn: Any, tmp_path: Path) -> None:
    tenant = new_tenant(engine)
    data = os.urandom(1 << 20) * 96  # 96 MiB: long enough to be stopped in the middle
    (tmp_path / "src").write_bytes(data)
    client = dev_server.client
    first = spawn()  # no grace: the running transfer is cancelled at once, retried elsewhere
    started = await start_backup(client, engine, settings, tenant, tmp_path / "src")

    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=60) == 0, first.output
    assert "SIGTERM: draining" in first.output and "worker stopped (exit 0)" in first.output
    [row] = list_backups(engine, tenant)
    assert row["status"] == "pending"  # the first worker did not finish it

    second = spawn()
    handle = client.get_workflow_handle(started["workflow_id"])
    await handle.result()
    [row] = list_backups(engine, tenant)
    assert row["status"] == "complete" and row["id"] == started["backup_id"]
    history = await handle.fetch_history()
    transfer_starts = [e.activity_task_started_event_attributes for e in history.events
                       if e.HasField("activity_task_started_event_attributes")]
    assert transfer_starts[-1].identity.startswith(f"{second.proc.pid}@"), transfer_starts
    assert transfer_starts[-1].attempt >= 2

    # The same worker's metrics: the SDK's runtime series and ours, from this backup.
    metrics = httpx.get(f"http://127.0.0.1:{second.metrics_port}/metrics", timeout=5,
                        trust_env=False).text
    assert "temporal_activity_execution_latency" in metrics
    assert "temporal_workflow_completed" in metrics
    backups = [line for line in metrics.splitlines() if line.startswith("byok_backups_total{")]
    assert any('workload="ebs"' in line and 'key_kind="default"' in line
               and 'outcome="ok"' in line and line.endswith(" 1") for line in backups), backups
    byte_lines = [line for line in metrics.splitlines()
                  if line.startswith("byok_backup_bytes_total{")]
    assert any(line.endswith(f" {len(data)}") for line in byte_lines), byte_lines
    assert "byok_transfer_throughput_bucket" in metrics
    assert f"Worker metrics  http://127.0.0.1:{second.metrics_port}/metrics" in second.output


def test_a_taken_metrics_port_is_named_and_the_worker_exits_2(settings: Settings) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = {**up.child_env(settings, os.environ), "BYOK_WORKER_METRICS_PORT": str(port)}
        done = subprocess.run([sys.executable, "worker.py"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot serve worker metrics on 127.0.0.1:{port}" in done.stderr
    assert "BYOK_WORKER_METRICS_PORT" in done.stderr and "worker ready" not in done.stdout
