"""`byok up` keeps its children running: a dead one is reported and restarted with backoff
while the others go on; the stack file tells `byok worker` how to join."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from byok.settings import Settings
from starter.procs import Child, say

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # backoff for a child that keeps dying
STEADY_SECONDS = 60.0  # a child up this long starts again from the first delay
STACK_FILE = "stack.json"  # what `byok worker` needs to join this stack
SECRET_SETTINGS = ("BYOK_OPERATOR_API_KEY", "BYOK_SESSION_SECRET")  # no worker needs them


class Supervised:
    """One component's current child, and when it may be restarted after dying."""

    def __init__(self, name: str, child: Child) -> None:
        self.name, self.child = name, child
        self.since = time.monotonic()
        self.restarts = 0
        self.restart_at: float | None = None


def supervise(supervised: list[Supervised], started: list[Child], stop: threading.Event,
              respawn: Callable[[str], Child]) -> int:
    """Run until a signal (then 0). A child that dies is reported and restarted with backoff;
    the others keep running."""
    while not stop.wait(0.5):
        now = time.monotonic()
        for sup in supervised:
            if sup.restart_at is None:
                code = sup.child.exit_code()
                if code is None:
                    continue
                if now - sup.since >= STEADY_SECONDS:
                    sup.restarts = 0
                delay = RESTART_DELAYS[min(sup.restarts, len(RESTART_DELAYS) - 1)]
                sup.restart_at = now + delay
                how = (f"was killed by {signal.Signals(-code).name}" if code < 0
                       else f"exited with code {code}")
                say(f"[byok] {sup.child.failure(how)}\n[byok] restarting {sup.name} in "
                    f"{delay:.0f} s (restart {sup.restarts + 1})", sys.stderr)
            elif now >= sup.restart_at:
                child = respawn(sup.name)
                started[started.index(sup.child)] = child
                sup.child, sup.since, sup.restart_at = child, now, None
                sup.restarts += 1
                say(f"[byok] restarted {sup.name} (pid {child.pid})")
    return 0


def stack_file(settings: Settings) -> Path:
    return settings.home.resolve() / STACK_FILE


def write_stack_file(settings: Settings, env: Mapping[str, str]) -> None:
    """The settings `up` gives its children, for `byok worker` (secrets left out)."""
    given = {k: v for k, v in env.items()
             if (k.startswith("BYOK_") and k not in SECRET_SETTINGS)
             or k in ("AWS_DEFAULT_REGION",)}
    path = stack_file(settings)
    path.write_text(json.dumps({"pid": os.getpid(), "env": given}, indent=1))
    path.chmod(0o600)
