"""Chaos on the real dev server: a 1 GiB backup whose worker is SIGKILLed at a random point
three times over (a new worker process each time) completes, resumed: it restores
byte-identical, leaves exactly one object in the vault, and every worker process together
read less than 1.5x the file."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path
from typing import Any

import blake3
import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from byok.messages import BackupResult
from byok.settings import Settings
from control.catalog import list_backups
from control.restores import run_restore
from tests.lazy import lazy
from tests.runtime.workers import bytes_read, new_tenant, start_backup, transfer_heartbeat

GIB = 1 << 30
# Checkpoints every 0.1 s reach the server at once (the worker's heartbeat throttle follows
# them); a killed worker is noticed after 3 s without heartbeats.
FAST = {"BYOK_TRANSFER_CHECKPOINT_SECONDS": "0.1", "BYOK_TRANSFER_HEARTBEAT_SECONDS": "3"}


def file_hash(path: Path) -> str:
    h = blake3.blake3(max_threads=1)
    with path.open("rb") as fh:
        while block := fh.read(16 << 20):
            h.update(block)
    return h.hexdigest()


@pytest.mark.timeout(280)
async def test_a_1_gib_backup_survives_three_sigkills_and_resumes(
        dev_server: WorkflowEnvironment, settings: Settings, engine: Engine, aws: Any,
        spawn: Any, tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    tenant = new_tenant(engine)
    src = tmp_path / "big"
    block = os.urandom(1 << 20)
    with src.open("wb") as fh:
        for _ in range(GIB // len(block)):
            fh.write(block)
    client = dev_server.client
    worker = spawn(**FAST)
    # What a worker reads to start (modules, the database, its first polls), measured on this
    # one while it has nothing to do: each process's count below includes it once.
    await asyncio.sleep(1)
    start_up = bytes_read(worker.proc.pid)
    started = await start_backup(client, engine, settings, tenant, src)
    handle = client.get_workflow_handle(started["workflow_id"], result_type=BackupResult)
    total_read, kills = 0, list[int]()
    for _ in range(3):
        # A random point 5-20 % of the file past the last kill (or the start).
        target = (kills[-1] if kills else 0) + int(rng.uniform(0.05, 0.2) * GIB)
        while not (beat := await transfer_heartbeat(client, started["workflow_id"])) \
                or beat[0] < target:
            assert list_backups(engine, tenant)[0]["status"] != "complete", \
                f"the backup outran the kills (seed {seed})"
            await asyncio.sleep(0.02)
        # Stopped first, so what it read is taken while it reads nothing more.
        os.kill(worker.proc.pid, signal.SIGSTOP)
        total_read += bytes_read(worker.proc.pid)
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
        kills.append(beat[0])
        worker = spawn(**FAST)
    result = await handle.result()
    total_read += bytes_read(worker.proc.pid)  # before the restore reads the vault

    history = await handle.fetch_history()
    attempts = [e.activity_task_started_event_attributes.attempt for e in history.events
                if e.HasField("activity_task_started_event_attributes")]
    assert max(attempts) == 4, (attempts, seed)  # three killed attempts, then the one that won
    assert result.ok and result.plaintext_size == GIB
    assert result.resumed_bytes > kills[0] // 2, (result, kills)
    assert result.digest == file_hash(src)
    # Every worker process together read less than 1.5x the file beyond what each read to
    # start (and at least the file, or the count would prove nothing): the retries resumed
    # instead of starting over.
    transfer_read = total_read - (len(kills) + 1) * start_up
    assert GIB <= transfer_read < 1.5 * GIB, (transfer_read / GIB, start_up, kills, seed)
    folder = settings.vault_dir / tenant
    assert [p.name for p in folder.iterdir()] == [f"{started['backup_id']}.byok"]
    [row] = list_backups(engine, tenant)
    assert row["status"] == "complete"

    out = tmp_path / "restored"
    await run_restore(engine, settings, lazy(client), tenant=tenant,
                      backup_id=started["backup_id"], target=str(out), force=False, actor="test")
    assert out.stat().st_size == GIB and file_hash(out) == file_hash(src)
    print(f"chaos: seed {seed}, killed at {[round(k / GIB, 3) for k in kills]} GiB, "
          f"read {transfer_read / GIB:.3f} GiB beyond start-up ({start_up >> 20} MiB each), "
          f"resumed {result.resumed_bytes / GIB:.3f}")
