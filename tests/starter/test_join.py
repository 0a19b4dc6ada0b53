"""`byok worker`: joins only a running stack, with the settings that stack gave its worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from byok.settings import load_settings
from starter import join, up
from starter.supervise import stack_file, write_stack_file

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_running_stack_it_says_so_and_starts_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYOK_")}
    done = subprocess.run([sys.executable, "-c", "from starter.cli import app; app()", "worker"],
                          cwd=ROOT, env={**env, "BYOK_HOME": str(tmp_path / "home")},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "no `byok up` is running for" in done.stderr and "byok up" in done.stderr
    assert "worker ready" not in done.stdout


def test_a_stack_file_of_a_stopped_up_is_refused(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stack_file(settings).write_text(json.dumps({"pid": dead.pid, "env": {}}))
    with pytest.raises(SystemExit, match=rf"pid {dead.pid}\) is no longer running"):
        join.worker_env(settings, {})


def test_the_worker_gets_up_s_settings_but_its_own_metrics_port(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, task_queue="q-joined", temporal_port=17001,
                             localaws_port=17002, worker_metrics_port=17003,
                             operator_api_key="real-operator-secret")
    write_stack_file(settings, up.child_env(settings, {}))  # as up writes it: pid is ours
    assert "real-operator-secret" not in stack_file(settings).read_text()
    assert stack_file(settings).stat().st_mode & 0o077 == 0
    env = join.worker_env(settings, {"PATH": "/bin", "BYOK_TASK_QUEUE": "mine"})
    assert env["PATH"] == "/bin"
    assert env["BYOK_TASK_QUEUE"] == "q-joined"  # the stack's, not this shell's
    assert env["BYOK_TEMPORAL_ADDRESS"] == "127.0.0.1:17001"
    assert env["BYOK_AWS_ENDPOINT_URL"] == "http://127.0.0.1:17002"
    assert env["AWS_ACCESS_KEY_ID"] == settings.service_account_id
    assert env["AWS_SECRET_ACCESS_KEY"] == "local"
    assert env["BYOK_WORKER_METRICS_PORT"] not in ("17003", "0")
