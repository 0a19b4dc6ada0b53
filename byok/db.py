"""Database engine, sessions and schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from byok.keyspec import dev_key, parse_keys

MIGRATIONS = Path(__file__).parent / "migrations"
# The audit chain's HMAC keys, per engine: every writer of the database seals its events
# with the key the engine was made with (BYOK_AUDIT_KEYS), kept outside the database.
_AUDIT_KEYS: dict[int, dict[str, bytes]] = {}


def make_engine(url: str, *, audit_keys: str = dev_key("audit")) -> Engine:
    engine = _make_engine(url)
    _AUDIT_KEYS[id(engine)] = parse_keys(audit_keys, "BYOK_AUDIT_KEYS")
    return engine


def audit_keys(engine: Engine) -> dict[str, bytes]:
    """The keys `engine` seals and verifies audit events with, the current one first."""
    return _AUDIT_KEYS[id(engine)]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the web app read while the worker writes; foreign keys are off by default.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision`."""
    command.upgrade(alembic_config(engine), revision)


_LOCKS: dict[int, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _unit_lock(engine: Engine) -> AbstractContextManager[object]:
    """SQLite allows one writer: threads of one process queue here instead of meeting in
    SQLite's busy handler, which sleeps in steps of up to 100 ms."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(id(engine), threading.RLock())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with _unit_lock(engine), Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
