"""`byok worker`: one more worker against the running `byok up` stack, with the settings and
AWS credentials `up` gives its own children (as `--scale worker=N` adds one in compose)."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from byok.settings import Settings
from starter.procs import say
from starter.supervise import stack_file

ROOT = Path(__file__).resolve().parent.parent


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def worker_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment `up` gave its worker, from the stack file; raises SystemExit with a
    message when no stack runs for this home."""
    path = stack_file(settings)
    try:
        stack = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"byok worker: no `byok up` is running for {settings.home.resolve()} "
                         "(no stack file); start the stack with `byok up` first") from None
    if not _running(int(stack["pid"])):
        raise SystemExit(f"byok worker: the `byok up` that wrote {path} (pid {stack['pid']}) "
                         "is no longer running; start the stack with `byok up` first")
    env = {k: v for k, v in base.items() if not k.startswith("BYOK_")}
    env.update(stack["env"])
    for secret in ("BYOK_OPERATOR_API_KEY", "BYOK_SESSION_SECRET"):
        if secret in base:
            env[secret] = base[secret]
    if env.get("BYOK_AWS_ENDPOINT_URL"):  # localaws: act as the service account, as up does
        env.setdefault("AWS_ACCESS_KEY_ID", env.get("BYOK_SERVICE_ACCOUNT_ID", ""))
        env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if env.get("BYOK_WORKER_METRICS_PORT", "0") != "0":  # up's worker holds that port
        env["BYOK_WORKER_METRICS_PORT"] = str(_free_port(env.get("BYOK_WORKER_METRICS_HOST",
                                                                 "127.0.0.1")))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_worker(settings: Settings) -> None:
    """Replace this process with worker.py, so signals reach the worker itself."""
    env = worker_env(settings, os.environ)
    say(f"[byok] joining the stack in {settings.home.resolve()} as one more worker")
    os.execve(sys.executable, [sys.executable, str(ROOT / "worker.py")], env)  # noqa: S606 - our own interpreter and script
