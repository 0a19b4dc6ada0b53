"""Attack: someone with write access to the database rewrites or cuts back a tenant's audit
history. The chain is keyed with a key the database does not hold, the head only moves
forward, and anchors outside the database catch a chain cut back or rewritten as a whole."""

from __future__ import annotations

import base64
import json
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from temporalio.worker import Worker

from byok import audit, crud
from byok.audit_anchor import AnchorInvalid, FileAnchors, latest_anchor, seal, unseal
from byok.db import audit_keys, make_engine, migrate, session_scope
from byok.messages import AnchorInput
from byok.models import utcnow
from byok.settings import load_settings


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def keyed(db_url: str) -> Any:
    spec = key("k1")
    engine = make_engine(db_url, audit_keys=spec)
    migrate(engine)
    yield engine, spec
    engine.dispose()


def tenant_with_events(engine: Engine, n: int = 5) -> str:
    with session_scope(engine) as session:
        tenant = crud.create_tenant(session, name="acme-" + secrets.token_hex(3))
        for i in range(n):
            audit.append(session, tenant_id=tenant.id, actor="test", action=f"step.{i}",
                         details={"i": i})
        return tenant.id


def drop_guards(engine: Engine) -> None:
    """What an attacker with database access does first."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for trig in ("auditevent_no_update", "auditevent_no_delete", "audithead_no_delete",
                         "audithead_forward"):
                conn.execute(text(f"DROP TRIGGER {trig}"))
        else:
            conn.execute(text("DROP TRIGGER auditevent_no_change ON auditevent"))
            conn.execute(text("DROP TRIGGER audithead_forward ON audithead"))


def verify(engine: Engine, tid: str, anchor: Any = None) -> audit.ChainReport:
    with session_scope(engine) as session:
        return audit.verify(session, tid, anchor)


def test_events_are_sealed_with_the_key_outside_the_database(keyed: Any) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine)
    with session_scope(engine) as session:
        events = audit.history(session, tid)
    assert {e.key_id for e in events} == {"k1"}
    assert verify(engine, tid).ok


def test_recomputing_the_chain_without_the_key_is_named(keyed: Any) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine)
    drop_guards(engine)
    # The attacker edits event 3 and recomputes every link after it, as a plain SHA-256
    # chain would let them (and as they would with any key but ours).
    forged_key = os.urandom(32)
    with session_scope(engine) as session:
        events = audit.history(session, tid)
        prev = events[1].hash
        for ev in events[2:]:
            details = {"i": 99} if ev.seq == 3 else ev.details
            digest = audit.event_hash(tenant_id=tid, seq=ev.seq, at=ev.at, actor=ev.actor,
                                      action=ev.action, details=details, prev_hash=prev,
                                      key=forged_key)
            session.execute(text("UPDATE auditevent SET details=:d, prev_hash=:p, hash=:h "
                                 "WHERE id=:id"),
                            {"d": json.dumps(details), "p": prev, "h": digest, "id": ev.id})
            prev = digest
        session.execute(text("UPDATE audithead SET hash=:h WHERE tenant_id=:t"),
                        {"h": prev, "t": tid})
    report = verify(engine, tid)
    assert not report.ok and report.first_bad_seq == 3 and "altered" in (report.problem or "")


def test_an_unkeyed_link_after_keyed_ones_is_named_as_forged(keyed: Any) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine, n=2)
    drop_guards(engine)
    with session_scope(engine) as session:
        ev = audit.history(session, tid)[-1]
        digest = audit.event_hash(tenant_id=tid, seq=ev.seq, at=ev.at, actor=ev.actor,
                                  action="forged", details=ev.details, prev_hash=ev.prev_hash)
        session.execute(text("UPDATE auditevent SET action='forged', key_id=NULL, hash=:h "
                             "WHERE id=:id"), {"h": digest, "id": ev.id})
        session.execute(text("UPDATE audithead SET hash=:h WHERE tenant_id=:t"),
                        {"h": digest, "t": tid})
    report = verify(engine, tid)
    assert not report.ok and report.first_bad_seq == ev.seq and "forged" in (report.problem or "")


def test_the_head_only_moves_forward(keyed: Any) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine)
    for stmt in ("DELETE FROM audithead", "UPDATE audithead SET seq=seq-2"):
        with pytest.raises(DBAPIError, match="only moves forward"), engine.begin() as conn:
            conn.execute(text(stmt))
    with session_scope(engine) as session:  # appending still moves it forward
        audit.append(session, tenant_id=tid, actor="t", action="more")
    assert verify(engine, tid).ok


def test_truncation_with_the_head_moved_back_is_caught_by_the_anchor(keyed: Any,
                                                                     tmp_path: Path) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine)  # 6 events
    store = FileAnchors(tmp_path / "anchors")
    with session_scope(engine) as session:
        store.put("20260101T000000.000000Z.json",
                  seal(audit.heads(session), audit_keys(engine), utcnow()))
    drop_guards(engine)
    with session_scope(engine) as session:
        h = audit.history(session, tid)[3].hash
    with engine.begin() as conn:  # delete the newest two and move the head back
        conn.execute(text("DELETE FROM auditevent WHERE tenant_id=:t AND seq>4"), {"t": tid})
        conn.execute(text("UPDATE audithead SET seq=4, hash=:h WHERE tenant_id=:t"),
                     {"h": h, "t": tid})
    assert verify(engine, tid).ok  # consistent in the database alone...
    anchor = latest_anchor(store, audit_keys(engine))
    assert anchor is not None
    report = verify(engine, tid, anchor.for_tenant(tid))
    assert not report.ok and report.first_bad_seq == 5  # ...but not with the anchor
    assert "events 5-6 are missing" in (report.problem or "")


def test_a_rewritten_anchored_prefix_is_named(keyed: Any, tmp_path: Path) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine, n=2)
    with session_scope(engine) as session:
        sealed = seal(audit.heads(session), audit_keys(engine), utcnow())
    anchor = unseal("a.json", sealed, audit_keys(engine))
    seq = anchor.heads[tid][0]
    # Even a rewrite with the real key (a stolen key) cannot match the anchored hash once
    # any anchored event changes: the anchor pins the prefix.
    drop_guards(engine)
    with session_scope(engine) as session:
        events = audit.history(session, tid)
        k = audit_keys(engine)["k1"]
        prev = events[0].prev_hash
        for ev in events:
            digest = audit.event_hash(tenant_id=tid, seq=ev.seq, at=ev.at, actor="someone-else",
                                      action=ev.action, details=ev.details, prev_hash=prev, key=k)
            session.execute(text("UPDATE auditevent SET actor='someone-else', prev_hash=:p, "
                                 "hash=:h WHERE id=:id"), {"p": prev, "h": digest, "id": ev.id})
            prev = digest
        session.execute(text("UPDATE audithead SET hash=:h WHERE tenant_id=:t"),
                        {"h": prev, "t": tid})
    assert verify(engine, tid).ok
    report = verify(engine, tid, anchor.for_tenant(tid))
    assert not report.ok and report.first_bad_seq == seq and "rewritten" in (report.problem or "")


def test_an_edited_or_foreign_anchor_is_refused(keyed: Any) -> None:
    engine, _ = keyed
    tenant_with_events(engine, n=1)
    with session_scope(engine) as session:
        sealed = seal(audit.heads(session), audit_keys(engine), utcnow())
    doc = json.loads(sealed)
    first = next(iter(doc["heads"]))
    doc["heads"][first][0] = 1
    with pytest.raises(AnchorInvalid, match="altered"):
        unseal("x.json", json.dumps(doc).encode(), audit_keys(engine))
    with pytest.raises(AnchorInvalid, match="does not hold"):
        unseal("x.json", sealed, {"other": os.urandom(32)})
    with pytest.raises(AnchorInvalid, match="not an anchor"):
        unseal("x.json", b"[]", audit_keys(engine))


def test_rotation_old_links_verify_new_links_use_the_new_key(db_url: str) -> None:
    old, new = key("k1"), key("k2")
    engine = make_engine(db_url, audit_keys=old)
    migrate(engine)
    tid = tenant_with_events(engine, n=2)
    rotated = make_engine(db_url, audit_keys=f"{new},{old}")
    with session_scope(rotated) as session:
        audit.append(session, tenant_id=tid, actor="t", action="after-rotation")
        assert [e.key_id for e in audit.history(session, tid)][-2:] == ["k1", "k2"]
    assert verify(rotated, tid).ok
    dropped = make_engine(db_url, audit_keys=new)
    report = verify(dropped, tid)
    assert not report.ok and report.first_bad_seq == 1 and "'k1'" in (report.problem or "")
    for e in (engine, rotated, dropped):
        e.dispose()


def test_redaction_reaches_inside_lists(keyed: Any) -> None:
    engine, _ = keyed
    tid = tenant_with_events(engine, n=0)
    with session_scope(engine) as session:
        ev = audit.append(session, tenant_id=tid, actor="x", action="a", details={
            "items": [{"token": "t0k3n", "ok": 1}, [{"external_id": "e"}], "plain"]})
    assert ev.details == {"items": [{"token": "[redacted]", "ok": 1},
                                    [{"external_id": "[redacted]"}], "plain"]}
    assert "t0k3n" not in json.dumps(ev.details)


async def test_the_anchor_workflow_seals_every_head(temporal_env: Any, tmp_path: Path) -> None:
    from activities.audit import AuditActivities
    from workflows.audit_anchor import AuditAnchorWorkflow

    settings = load_settings(home=tmp_path, task_queue="q-" + secrets.token_hex(4))
    engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
    migrate(engine)
    tid = tenant_with_events(engine, n=3)
    store = FileAnchors(settings.anchor_dir)
    acts = AuditActivities(engine, store)
    with ThreadPoolExecutor(2) as pool:
        async with Worker(temporal_env.client, task_queue=settings.task_queue,
                          workflows=[AuditAnchorWorkflow], activities=[acts.anchor_audit_heads],
                          activity_executor=pool):
            result = await temporal_env.client.execute_workflow(
                AuditAnchorWorkflow.run, AnchorInput("test"), id="anchor-" + secrets.token_hex(3),
                task_queue=settings.task_queue)
    assert result.chains >= 1
    path = settings.anchor_dir / result.name
    assert path.stat().st_mode & 0o222 == 0  # written once, read-only
    anchor = latest_anchor(store, audit_keys(engine))
    assert anchor is not None and anchor.heads[tid][0] == 4
    with pytest.raises(FileExistsError):  # an anchor is never overwritten
        store.put(result.name, b"{}")
    engine.dispose()


def test_cli_anchors_then_names_a_truncated_chain(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from starter.cli import app

    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_DATABASE_URL", raising=False)
    runner = CliRunner()

    def byok(*args: str) -> tuple[int, str]:
        out = runner.invoke(app, list(args))
        return out.exit_code, out.output

    byok("tenant", "create", "acme")
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        byok("connect", "--tenant", "acme", "--account", "444455556666", "--regions", region)
    code, out = byok("audit", "--anchor", "--json")
    assert code == 0 and json.loads(out)["chains"] >= 1, out
    engine = make_engine(f"sqlite:///{tmp_path / 'byok.db'}")
    drop_guards(engine)
    with engine.begin() as conn:  # cut the newest event and move the head back with it
        last = conn.execute(text("SELECT seq, prev_hash FROM auditevent ORDER BY seq DESC "
                                 "LIMIT 1")).one()
        conn.execute(text("DELETE FROM auditevent WHERE seq=:s"), {"s": last.seq})
        conn.execute(text("UPDATE audithead SET seq=:s, hash=:h"),
                     {"s": last.seq - 1, "h": last.prev_hash})
    code, out = byok("audit", "--tenant", "acme", "--verify", "--json")
    report = json.loads(out)
    assert code != 0 and report["ok"] is False and report["first_bad_seq"] == last.seq
    assert "anchor" in report["problem"]
    engine.dispose()
