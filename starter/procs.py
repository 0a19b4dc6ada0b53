"""A small process supervisor: children in their own process groups, prefixed output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

_print_lock = threading.Lock()


def say(line: str, out: TextIO | None = None) -> None:
    """One whole line at a time, so children's output never interleaves mid-line."""
    with _print_lock:
        stream = out or sys.stdout
        stream.write(line + "\n")
        stream.flush()


class ChildFailed(Exception):
    """A child exited or never became ready; the message names it and shows its last lines."""


class Child:
    """One supervised process; its stdout and stderr are merged, prefixed and remembered."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path,
                 marker: str | None = None, tail_lines: int = 40) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.marker = marker
        self.marked = threading.Event()  # set once a line containing `marker` was printed
        self.proc: subprocess.Popen[str] | None = None
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._tail_lock = threading.Lock()
        self._relay: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        # A new session makes the child the leader of its own process group, so one killpg
        # reaches its grandchildren too, and a Ctrl-C in the terminal reaches only us: we stop
        # the children ourselves, in order.
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            bufsize=1, start_new_session=True)
        self._relay = threading.Thread(target=self._pass_through, daemon=True,
                                       name=f"relay-{self.name}")
        self._relay.start()

    def _pass_through(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            with self._tail_lock:
                self._tail.append(line)
            if self.marker and self.marker in line:
                self.marked.set()
            say(f"[{self.name}] {line}")

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def tail(self) -> list[str]:
        with self._tail_lock:
            return list(self._tail)

    def wait_ready(self, ready: Callable[[], bool], *, timeout: float, stop: threading.Event,
                   interval: float = 0.2) -> bool:
        """Poll `ready` until it holds (True) or `stop` is set (False); raise if the child
        exits or the timeout passes first."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            code = self.exit_code()
            if code is not None:
                raise ChildFailed(self.failure(f"exited with code {code} before it was ready"))
            if ready():
                return True
            if time.monotonic() > deadline:
                raise ChildFailed(self.failure(f"was not ready within {timeout:.0f} s"))
            stop.wait(interval)
        return False

    def failure(self, what: str) -> str:
        """`what` happened to this child, with its last output lines."""
        if self.exit_code() is not None and self._relay is not None:
            self._relay.join(timeout=2)  # let a dead child's last lines arrive
        lines = self.tail()[-20:] or ["(no output)"]
        shown = "\n".join(f"  [{self.name}] {line}" for line in lines)
        return f"{self.name} {what}; its last output:\n{shown}"

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the whole group, SIGKILL it after `grace` seconds; returns the exit code."""
        if self.proc is None:
            return None
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            say(f"[byok] {self.name} did not stop within {grace:.0f} s; killing it")
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
        # The leader is gone, but a grandchild that ignored SIGTERM must not outlive us.
        self._signal_group(signal.SIGKILL)
        if self._relay is not None:
            self._relay.join(timeout=2)
        return self.proc.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
            os.killpg(self.proc.pid, sig)
