"""`byok up`: port checks and the supervisor, with stand-in children (test_up_stack.py starts
the real stack)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from byok.settings import load_settings
from starter import probes, up
from starter.procs import Child, ChildFailed
from tests.starter.stack_procs import (
    PORT_VARS,
    ROOT,
    alive,
    byok_up_argv,
    free_ports,
    kill_groups,
    quiet_settings,
    stack_env,
)

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
