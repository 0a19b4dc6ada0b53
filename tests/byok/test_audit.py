"""The audit chain: appends link, edits and deletions are named, secrets are redacted."""

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from byok import audit, crud
from byok.db import session_scope


def _tenant_with_events(engine: Engine, n: int = 5) -> str:
    with session_scope(engine) as session:
        tenant = crud.create_tenant(session, name="acme")
        for i in range(n):
            audit.append(session, tenant_id=tenant.id, actor="test", action=f"step.{i}",
                         details={"i": i})
        return tenant.id


def _drop_guard(engine: Engine) -> None:
    """Simulate someone editing the database behind the app's back."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER auditevent_no_update"))
            conn.execute(text("DROP TRIGGER auditevent_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER auditevent_no_change ON auditevent"))


def test_clean_chain_verifies(any_engine: Engine) -> None:
    tid = _tenant_with_events(any_engine)
    with session_scope(any_engine) as session:
        report = audit.verify(session, tid)
    assert report.ok and report.count == 6  # tenant.created + 5


def test_updates_and_deletes_are_refused(any_engine: Engine) -> None:
    _tenant_with_events(any_engine)
    for stmt in ("UPDATE auditevent SET action='x' WHERE seq=2", "DELETE FROM auditevent"):
        try:
            with any_engine.begin() as conn:
                conn.execute(text(stmt))
        except DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{stmt} was allowed")


def test_edited_row_is_named(any_engine: Engine) -> None:
    tid = _tenant_with_events(any_engine)
    _drop_guard(any_engine)
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE auditevent SET details='{\"i\": 99}' "
                          "WHERE seq=3 AND tenant_id=:t"), {"t": tid})
    with session_scope(any_engine) as session:
        report = audit.verify(session, tid)
    assert not report.ok and report.first_bad_seq == 3
    assert "altered" in (report.problem or "")


def test_deleted_row_is_named(any_engine: Engine) -> None:
    tid = _tenant_with_events(any_engine)
    _drop_guard(any_engine)
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM auditevent WHERE seq=4 AND tenant_id=:t"), {"t": tid})
    with session_scope(any_engine) as session:
        report = audit.verify(session, tid)
    assert not report.ok and report.first_bad_seq == 4
    assert "missing" in (report.problem or "")


def test_deleted_last_row_is_named(any_engine: Engine) -> None:
    tid = _tenant_with_events(any_engine)
    _drop_guard(any_engine)
    with any_engine.begin() as conn:
        conn.execute(text("DELETE FROM auditevent WHERE seq=6 AND tenant_id=:t"), {"t": tid})
    with session_scope(any_engine) as session:
        report = audit.verify(session, tid)
    assert not report.ok and report.first_bad_seq == 6


def test_event_key_makes_retries_idempotent(any_engine: Engine) -> None:
    tid = _tenant_with_events(any_engine, n=0)
    with session_scope(any_engine) as session:
        first = audit.append(session, tenant_id=tid, actor="wf", action="a", event_key="k1")
        again = audit.append(session, tenant_id=tid, actor="wf", action="a", event_key="k1")
        assert first.seq == again.seq
        assert len(audit.history(session, tid)) == 2


def test_secrets_are_redacted(any_engine: Engine) -> None:
    tid = _tenant_with_events(any_engine, n=0)
    with session_scope(any_engine) as session:
        ev = audit.append(session, tenant_id=tid, actor="x", action="a",
                          details={"token": "abc", "nested": {"external_id": "e"}, "ok": 1})
    assert ev.details == {"token": "[redacted]", "nested": {"external_id": "[redacted]"},
                          "ok": 1}
