"""Helpers of the worker-process tests: a worker subprocess with its output, a tenant, a
backup started through control/."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from byok import crud
from byok.db import session_scope
from byok.settings import Settings
from control.backups import start_backup as start_backup_workflow
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from tests.lazy import lazy

ROOT = Path(__file__).resolve().parents[2]


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


async def transfer_heartbeat(client: Any, workflow_id: str) -> list[Any]:
    """The running transfer's last heartbeat as the server holds it (decoded through the
    codec): [plaintext bytes so far, checkpoint or None]; [] before the first one."""
    desc = await client.get_workflow_handle(workflow_id).describe()
    for pending in desc.raw_description.pending_activities:
        if pending.heartbeat_details.payloads:
            return list(await client.data_converter.decode(pending.heartbeat_details.payloads))
    return []


def bytes_read(pid: int) -> int:
    """Everything the process has read through read()-like calls (/proc/<pid>/io rchar):
    the source and anything else (sockets, the database, modules), so never less than the
    source."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no rchar in /proc/{pid}/io")
