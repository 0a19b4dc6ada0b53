"""Per-command context for the CLI: settings, database and Temporal, and error printing."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from byok.db import make_engine, migrate
from byok.errors import ByokError
from byok.settings import Settings, load_settings

T = TypeVar("T")
err_console = Console(stderr=True, soft_wrap=True)
console = Console(soft_wrap=True)


@dataclass
class Ctx:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings.db_url, audit_keys=self.settings.audit_keys)
        migrate(engine)
        return engine


def context() -> Ctx:
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


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        human()
