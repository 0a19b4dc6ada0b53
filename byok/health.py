"""Key-health states, findings, transitions (one alert per change) and the backup gate."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from byok import audit, keyring
from byok.errors import ByokError
from byok.health_alerts import alert_text, blast_radius
from byok.health_messages import Finding, HealthReport, RecordResult, RegionHealth
from byok.models import Backup, HealthAlert, KeyHealth, TenantHealth, utcnow

HEALTHY, DEGRADED, AT_RISK, UNAVAILABLE, LOST = (
    "Healthy", "Degraded", "AtRisk", "Unavailable", "Lost")
NOT_CHECKED = "NotChecked"
RANK = {HEALTHY: 0, DEGRADED: 1, AT_RISK: 2, UNAVAILABLE: 3, LOST: 4}
# What each finding does to its region; codes absent here are warnings (no state change).
CODE_STATE = {
    "KEY_PENDING_DELETION": AT_RISK, "KEY_PENDING_REPLICA_DELETION": AT_RISK,
    "KEY_DISABLED": UNAVAILABLE, "REPLICA_DISABLED": UNAVAILABLE,
    "KEY_ACCESS_DENIED": UNAVAILABLE, "ROLE_ACCESS_LOST": UNAVAILABLE,
    "REPLICA_MISSING": UNAVAILABLE, "DRILL_FAILED": UNAVAILABLE, "KEY_UNUSABLE": UNAVAILABLE,
    "KEY_DELETED": LOST, "ACCOUNT_LOST": LOST,
}


class BackupsPaused(ByokError):
    """New backups for a tenant and region wait until that region's key is Healthy again."""

    code = "BACKUPS_PAUSED"


def finding_state(code: str) -> str:
    return CODE_STATE.get(code, HEALTHY)


def region_state(findings: list[Finding]) -> str:
    return max((finding_state(f.code) for f in findings), key=RANK.__getitem__, default=HEALTHY)


def worst(states: list[str]) -> str:
    return max(states, key=RANK.__getitem__, default=HEALTHY)


def overall_state(regions: list[RegionHealth]) -> str:
    """Per generation: a problem of the primary (or of every region) is the key's own state;
    a problem of only some replicas is Degraded. The tenant's state is the worst generation."""
    per_generation: list[str] = []
    for gen in sorted({r.generation for r in regions}):
        rows = [r for r in regions if r.generation == gen]
        bad = [r for r in rows if r.state != HEALTHY]
        if not bad:
            per_generation.append(HEALTHY)
        elif len(bad) == len(rows) or any(r.primary for r in bad):
            per_generation.append(worst([r.state for r in bad]))
        else:
            per_generation.append(DEGRADED)
    return worst(per_generation)


def signature(report: HealthReport, state: str) -> str:
    """What an alert is about: states and finding codes, not dates nor days left."""
    parts = [f"{r.generation}:{r.region}:{r.state}:{','.join(sorted(f.code for f in r.findings))}"
             for r in sorted(report.regions, key=lambda r: (r.generation, r.region))]
    warn = ",".join(sorted(f"{w.code}@{w.generation}" for w in report.warnings))
    return f"{state}|{';'.join(parts)}|{warn}"


def record(session: Session, check_id: str, report: HealthReport) -> RecordResult:
    """Store one check; on a change of health write exactly one alert and its audit event."""
    return record_many(session, [(check_id, report)])[0]


def record_many(session: Session, checks: list[tuple[str, HealthReport]]) -> list[RecordResult]:
    """Store many checks in one transaction: three reads for the lot, then per tenant only
    the rows that change (a blast radius is computed only for an alert)."""
    ids = sorted({r.tenant_id for _, r in checks})
    # The row locks (taken in one order) serialise concurrent checks of one tenant
    # (PostgreSQL; SQLite's writer lock does the same): one change makes one alert.
    ths = {th.tenant_id: th for th in session.exec(
        select(TenantHealth).where(col(TenantHealth.tenant_id).in_(ids))
        .order_by(col(TenantHealth.tenant_id)).with_for_update()).all()}
    rows: dict[str, dict[tuple[int, str], KeyHealth]] = {t: {} for t in ids}
    for h in session.exec(select(KeyHealth).where(col(KeyHealth.tenant_id).in_(ids))).all():
        rows[h.tenant_id][(h.generation, h.region)] = h
    retried = [cid for cid, r in checks if (th := ths.get(r.tenant_id)) is not None
               and th.last_check_id == cid]
    alerted = {a.check_id: a.id for a in session.exec(
        select(HealthAlert).where(col(HealthAlert.check_id).in_(retried)))} if retried else {}
    out = []
    for check_id, report in checks:
        th = ths.get(report.tenant_id)
        if th is not None and th.last_check_id == check_id:  # a retried record of one check
            out.append(RecordResult(report.tenant_id, th.state,
                                    alert_id=alerted.get(check_id)))
            continue
        out.append(_record_one(session, check_id, report, th, rows[report.tenant_id]))
    return out


def _record_one(session: Session, check_id: str, report: HealthReport,
                th: TenantHealth | None, rows: dict[tuple[int, str], KeyHealth]) -> RecordResult:
    tenant_id = report.tenant_id
    now = utcnow()
    state = overall_state(report.regions)
    sig = signature(report, state)
    previous = th.state if th else None
    before, writes = _store_regions(session, tenant_id, report, now, rows)
    changed = th.signature != sig if th else state != HEALTHY or bool(report.warnings)
    # What was at stake: read before the backups of a Lost key are marked irretrievable.
    radius = blast_radius(session, tenant_id) if changed else []
    irretrievable = _mark_lost(session, check_id, report)
    if th is None:
        th = TenantHealth(tenant_id=tenant_id, state=state, signature=sig, changed_at=now)
    if changed:
        th.changed_at = now
    th.state, th.signature, th.checked_at, th.last_check_id = state, sig, now, check_id
    th.warnings = [dataclasses.asdict(w) for w in report.warnings]
    th.checks += 1
    session.add(th)
    alert_id = None
    if changed:
        alert_id = _alert(session, check_id, report, previous, state, before, radius)
    return RecordResult(tenant_id, state, previous, alert_id, irretrievable,
                        writes=1 + writes + irretrievable + (2 if alert_id else 0))


def _store_regions(session: Session, tenant_id: str, report: HealthReport, now: datetime,
                   rows: dict[tuple[int, str], KeyHealth]
                   ) -> tuple[dict[tuple[int, str], str], int]:
    """Upsert one row per key and region; returns the states they had before, and rows."""
    before = {k: r.state for k, r in rows.items()}
    for reg in report.regions:
        row = rows.get((reg.generation, reg.region))
        codes = sorted(f.code for f in reg.findings)
        if row is None:
            row = KeyHealth(tenant_id=tenant_id, generation=reg.generation, region=reg.region,
                            key_arn=reg.key_arn, is_primary=reg.primary, state=reg.state,
                            changed_at=now)
            rows[(reg.generation, reg.region)] = row
        elif row.state != reg.state or sorted(f["code"] for f in row.findings) != codes:
            row.changed_at = now
        row.state, row.checked_at, row.key_arn = reg.state, now, reg.key_arn
        row.findings = [dataclasses.asdict(f) for f in reg.findings]
        if reg.drilled_backup:
            row.drilled_at, row.drilled_backup = now, reg.drilled_backup
        session.add(row)
    return before, len(report.regions)


def _mark_lost(session: Session, check_id: str, report: HealthReport) -> int:
    """Backups under a Lost key can never be opened again: say so in the catalog."""
    marked = 0
    for reg in report.regions:
        if reg.state != LOST:
            continue
        rows = session.exec(select(Backup).where(
            Backup.tenant_id == report.tenant_id, Backup.key_arn == reg.key_arn,
            Backup.region == reg.region, col(Backup.status) == "complete")).all()
        codes = ", ".join(f.code for f in reg.findings)
        for row in rows:
            row.status, row.error = "irretrievable", f"{codes}: key {reg.key_arn} is lost"
            session.add(row)
        if rows:
            marked += len(rows)
            audit.append(session, tenant_id=report.tenant_id, actor="key-health",
                         action="backups.irretrievable",
                         details={"key_arn": reg.key_arn, "region": reg.region, "codes": codes,
                                  "backups": [r.id for r in rows]},
                         event_key=f"irretrievable/{check_id}/{reg.generation}/{reg.region}")
    return marked


def _alert(session: Session, check_id: str, report: HealthReport, previous: str | None,
           state: str, before: dict[tuple[int, str], str], radius: list[dict[str, object]]) -> str:
    changes = [{"generation": r.generation, "region": r.region, "key_arn": r.key_arn,
                "from": before.get((r.generation, r.region)), "to": r.state}
               for r in report.regions if before.get((r.generation, r.region)) != r.state]
    findings = [f for r in report.regions for f in r.findings] + list(report.warnings)
    title, message = alert_text(previous, state, findings, radius)
    alert = HealthAlert(id=f"al-{secrets.token_hex(10)}", tenant_id=report.tenant_id,
                        check_id=check_id, previous_state=previous, state=state,
                        title=title[:300], message=message[:4000],
                        details={"changes": changes,
                                 "findings": [dataclasses.asdict(f) for f in findings],
                                 "blast_radius": radius, "checked_at": report.checked_at})
    session.add(alert)
    session.flush()
    audit.append(session, tenant_id=report.tenant_id, actor="key-health",
                 action="key_health.changed",
                 details={"alert_id": alert.id, "from": previous, "to": state,
                          "findings": [f"{f.code}@{f.region}" for f in findings],
                          "changes": changes},
                 event_key=f"key_health/{alert.id}")
    return alert.id


def backup_gate(session: Session, tenant_id: str, region: str) -> None:
    """Refuse a new backup while the tenant's current key is not Healthy in `region`."""
    found = keyring.bindings(session, tenant_id)
    if not found:
        return  # the service's default key: nothing of the tenant's to check
    row = session.exec(select(KeyHealth).where(
        KeyHealth.tenant_id == tenant_id, KeyHealth.generation == found[0].generation,
        KeyHealth.region == region)).first()
    if row is None or row.state == HEALTHY:
        return
    first = row.findings[0] if row.findings else {"code": row.state, "message": ""}
    raise BackupsPaused(
        f"backups in {region} are paused while your key there is {row.state}: "
        f"{first['code']}: {first['message']} They resume by themselves once the key is "
        "Healthy again.")
