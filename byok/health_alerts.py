"""What a key-health alert says, what is at stake (blast radius), and the health view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from byok.health_messages import Finding
from byok.models import Backup, HealthAlert, KeyHealth, TenantHealth

REMEDY = {
    "KEY_PENDING_DELETION": "cancel the key deletion (AWS KMS console, or `aws kms "
                            "cancel-key-deletion --key-id {key} --region {region}`), then "
                            "enable the key (`aws kms enable-key --key-id {key} --region "
                            "{region}`)",
    "KEY_PENDING_REPLICA_DELETION": "cancel the deletion of the key and its replicas "
                                    "(`aws kms cancel-key-deletion`), then enable each of them",
    "KEY_DISABLED": "enable the key (`aws kms enable-key --key-id {key} --region {region}`)",
    "REPLICA_DISABLED": "enable the replica (`aws kms enable-key --key-id {key} --region "
                        "{region}`)",
    "KEY_ACCESS_DENIED": "restore the key policy and the role's policy of the byok-vault stack",
    "ROLE_ACCESS_LOST": "restore the byok-vault role and its trust policy (redeploy or update "
                        "the byok-vault CloudFormation stack)",
    "ROLE_EXTERNAL_ID_NOT_ENFORCED": "put the sts:ExternalId condition back in the role's "
                                     "trust policy (update the byok-vault stack)",
    "REPLICA_MISSING": "re-create the replica, or contact support",
    "DRILL_FAILED": "contact support: the key answers but a sample backup did not open",
    "KEY_DELETED": "none: the key is deleted and backups under it are irretrievable",
    "ACCOUNT_LOST": "none unless the AWS account can be reopened: contact AWS",
}


def remedy(code: str, key_arn: str, region: str) -> str:
    return REMEDY.get(code, "").format(key=key_arn, region=region)


def blast_radius(session: Session, tenant_id: str) -> list[dict[str, Any]]:
    """Per tenant key and region: complete backups that depend on it, by workload."""
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
            Backup.key_arn, Backup.region, Backup.workload, func.count(),
            func.coalesce(func.sum(Backup.plaintext_size), 0),
            func.coalesce(func.sum(Backup.stored_size), 0))
        .where(Backup.tenant_id == tenant_id, col(Backup.key_kind) != "default",
               col(Backup.status) == "complete")
        .group_by(Backup.key_arn, Backup.region, Backup.workload)).all()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key_arn, region, workload, count, size, stored in rows:
        entry = out.setdefault((key_arn, region), {"key_arn": key_arn, "region": region,
                                                   "backups": 0, "bytes": 0,
                                                   "stored_bytes": 0, "by_workload": {}})
        entry["backups"] += int(count)
        entry["bytes"] += int(size)
        entry["stored_bytes"] += int(stored)
        entry["by_workload"][workload] = {"backups": int(count), "bytes": int(size)}
    return sorted(out.values(), key=lambda e: (e["region"], e["key_arn"]))


def _at_stake(radius: Sequence[dict[str, Any]], key_arn: str, region: str) -> str:
    for e in radius:
        if e["key_arn"] == key_arn and e["region"] == region:
            kinds = ", ".join(f"{w} {v['backups']}" for w, v in sorted(e["by_workload"].items()))
            return f"{e['backups']} backups ({e['bytes']} bytes: {kinds})"
    return "no backups yet"


def alert_text(previous: str | None, state: str, findings: list[Finding],
               radius: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """A title and a message that say what happened, what is at stake, what to do, by when."""
    title = f"BYOK key health: {previous or 'first check'} -> {state}"
    if not findings:
        return title, "Every key and region checked is healthy again; paused backups resume."
    lines = []
    for f in findings:
        line = f"[{f.code}] {f.region}: {f.message.rstrip('.')}."
        if f.deletion_date:
            line += (f" Scheduled deletion: {f.deletion_date} ({f.days_left:.1f} days left); "
                     f"after it, these backups are irretrievable.")
        line += f" At stake: {_at_stake(radius, f.key_arn, f.region)}."
        if f.remedy:
            line += f" What to do: {f.remedy}."
            if f.deletion_date:
                line += f" Do it before {f.deletion_date}."
        lines.append(line)
    return title, "\n".join(lines)


def view(session: Session, tenant_id: str, alerts: int = 10) -> dict[str, Any]:
    """The health as `byok health`, `byok status --json` and the console show it."""
    th = session.get(TenantHealth, tenant_id)
    rows = session.exec(select(KeyHealth).where(KeyHealth.tenant_id == tenant_id)
                        .order_by(col(KeyHealth.generation).desc(), col(KeyHealth.region))).all()
    radius = blast_radius(session, tenant_id)
    recent = session.exec(select(HealthAlert).where(HealthAlert.tenant_id == tenant_id)
                          .order_by(col(HealthAlert.created_at).desc()).limit(alerts)).all()
    regions = [{"generation": r.generation, "region": r.region, "key_arn": r.key_arn,
                "primary": r.is_primary, "state": r.state, "findings": r.findings,
                "checked_at": r.checked_at.isoformat(), "changed_at": r.changed_at.isoformat(),
                "drilled_at": r.drilled_at.isoformat() if r.drilled_at else None,
                "drilled_backup": r.drilled_backup}
               for r in rows]
    return {
        "state": th.state if th else "NotChecked",
        "checked_at": th.checked_at.isoformat() if th else None,
        "changed_at": th.changed_at.isoformat() if th else None,
        "checks": th.checks if th else 0,
        "regions": regions,
        "findings": [f for r in rows for f in r.findings] + (th.warnings if th else []),
        "blast_radius": radius,
        "alerts": [{"id": a.id, "at": a.created_at.isoformat(), "from": a.previous_state,
                    "to": a.state, "title": a.title, "message": a.message,
                    "delivery": a.delivery_status} for a in recent],
    }
