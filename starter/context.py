"""Per-command context for the CLI: settings, database and Temporal, and error printing.

Imports here stay light: `byok --help` must not load the database, AWS or Temporal
libraries; a command loads what it uses when it runs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from byok.errors import ByokError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine
    from temporalio.client import Client

    from byok.aws import AwsClients
    from byok.settings import Settings

T = TypeVar("T")


class _LazyConsole:
    """A rich Console made on first print (rich costs tens of milliseconds to import)."""

    def __init__(self, stderr: bool = False):
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, soft_wrap=True)
        return getattr(self._console, name)


err_console: Any = _LazyConsole(stderr=True)
console: Any = _LazyConsole()


@dataclass
class Ctx:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        from byok.db import make_engine, migrate

        engine = make_engine(self.settings.db_url, audit_keys=self.settings.audit_keys)
        migrate(engine)
        return engine

    @cached_property
    def aws(self) -> AwsClients:
        from byok.aws import AwsClients

        return AwsClients(self.settings)

    async def temporal(self) -> Client:
        """The Temporal client, connected once, when a use case first needs it."""
        client: Client | None = self.__dict__.get("_client")
        if client is None:
            from byok.temporal import connect

            client = self.__dict__["_client"] = await connect(self.settings)
        return client


def context() -> Ctx:
    from byok.settings import load_settings

    try:
        return Ctx(load_settings())
    except ByokError as exc:
        fail(exc)


def fail(exc: ByokError | str, code: int = 2) -> NoReturn:
    message = exc if isinstance(exc, str) else f"{exc.message} [{exc.code}]"
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def run(fn: Callable[[], T]) -> T:
    """Run a command body; our errors print plainly (no traceback) with a non-zero exit."""
    try:
        return fn()
    except ByokError as exc:
        return fail(exc)


def run_async(coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    import asyncio

    async def guarded() -> T:
        try:
            return await coro()
        except ByokError as exc:
            return fail(exc)
        except RuntimeError as exc:
            if "connect" in str(exc).lower():
                return fail("cannot reach Temporal; is `byok up` running?")
            raise
    return asyncio.run(guarded())


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=_plain) + "\n")
    else:
        human()
