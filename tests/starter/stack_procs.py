"""Starting and watching `byok up` as a real process tree: free ports, its argv and
environment, and the processes it leaves (or must not leave) behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

from byok.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
PORT_VARS = ("BYOK_TEMPORAL_PORT", "BYOK_TEMPORAL_UI_PORT", "BYOK_LOCALAWS_PORT",
             "BYOK_WEB_PORT", "BYOK_WORKER_METRICS_PORT", "BYOK_CODEC_PORT",
             "BYOK_CONSUMER_METRICS_PORT")
COMPONENTS = {"temporal", "codec", "localaws", "worker", "consumer", "web"}


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:  # all bound at once, so the n ports differ
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def byok_up_argv() -> list[str]:
    cli = ROOT / "starter" / "cli.py"
    if cli.exists() and "run_up" in cli.read_text():
        # As `byok up` runs it; the console script itself may not be installed in the venv.
        return [sys.executable, "-c", "from starter.cli import app; app()", "up"]
    return [sys.executable, "-m", "starter.up"]


def stack_env(home: Path, ports: list[int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYOK_")}
    env.update(dict(zip(PORT_VARS, map(str, ports), strict=True)), BYOK_HOME=str(home))
    return env


def alive(pid: int) -> bool:
    """Running and not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def session_members(sids: set[int]) -> list[int]:
    """Live processes in any of these sessions: children started them as session leaders,
    so their grandchildren show up here too."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] != "Z" and int(fields[3]) in sids:
                found.append(int(entry.name))
    return found


def kill_groups(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def quiet_settings(tmp_path: Path) -> Settings:
    t, u, a, w, m, c, cm = free_ports(7)
    return load_settings(home=tmp_path / "home", temporal_port=t, temporal_ui_port=u,
                         localaws_port=a, web_port=w, worker_metrics_port=m, codec_port=c,
                         consumer_metrics_port=cm)


def wait_for_line(path: Path, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, path.read_text())
        if found:
            return found
        assert time.monotonic() < deadline, f"no {pattern!r} in:\n{path.read_text()}"
        time.sleep(0.2)
