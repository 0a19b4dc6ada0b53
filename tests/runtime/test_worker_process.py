"""worker.py as a process on the real dev server: SIGTERM drains and exits 0, the backup it
was running resumes and completes on the next worker, and the worker serves temporal_* and
byok_* metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from byok.settings import Settings
from control.catalog import list_backups
from starter import up
from tests.runtime.workers import ROOT, new_tenant, start_backup, transfer_heartbeat


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
    data = os.urandom(1 << 20) * 256  # 256 MiB: long enough to be stopped in the middle
    (tmp_path / "src").write_bytes(data)
    client = dev_server.client
    # No grace: the running transfer is cancelled at once, retried elsewhere, and resumes.
    first = spawn(BYOK_TRANSFER_CHECKPOINT_SECONDS="0.1")
    started = await start_backup(client, engine, settings, tenant, tmp_path / "src")
    while not (beat := await transfer_heartbeat(client, started["workflow_id"]))[1:] or \
            not beat[1]:
        await asyncio.sleep(0.05)  # until a checkpoint reached the server
    checkpoint = beat[1]

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
    # It resumed: the second attempt took over at least the checkpoint seen before SIGTERM.
    [resumed] = [float(line.split()[-1]) for line in metrics.splitlines()
                 if line.startswith('byok_transfer_resumed_bytes_total{direction="backup"')]
    assert checkpoint["frames"] * settings.frame_size <= resumed < len(data)
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
