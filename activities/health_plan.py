"""What the key-health checks of many tenants look at, loaded in a few queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from byok.models import AwsConnection, Backup, KeyBinding, KeyHealth, utcnow
from byok.settings import Settings


@dataclass
class Target:
    region: str
    key_arn: str  # "" = a connected region the key was never replicated to
    primary: bool
    sample: Backup | None = None  # a backup to open in a restore drill, when one is due


@dataclass
class Plan:
    tenant_id: str
    generations: list[tuple[KeyBinding, list[Target]]] = field(default_factory=list)


def load_plans(session: Session, settings: Settings, tenant_ids: list[str],
               force_drill: bool = False) -> dict[str, Plan]:
    """Every key generation of each tenant with its regions (the current one also in the
    connected regions it lacks), newest first; five queries whatever the batch size."""
    ids = list(tenant_ids)
    found: defaultdict[str, list[KeyBinding]] = defaultdict(list)
    for b in session.exec(select(KeyBinding).where(col(KeyBinding.tenant_id).in_(ids))
                          .order_by(col(KeyBinding.tenant_id),
                                    col(KeyBinding.generation).desc())).all():
        found[b.tenant_id].append(b)
    connected = {(c.tenant_id, c.account_id): set(c.regions) for c in session.exec(
        select(AwsConnection).where(col(AwsConnection.tenant_id).in_(ids))).all()}
    rows = {(h.tenant_id, h.generation, h.region): h for h in session.exec(
        select(KeyHealth).where(col(KeyHealth.tenant_id).in_(ids))).all()}
    every = timedelta(seconds=settings.health_drill_interval_seconds)
    now = utcnow()
    plans: dict[str, Plan] = {}
    due: set[tuple[str, str, str]] = set()
    for tenant_id in ids:
        plan = plans[tenant_id] = Plan(tenant_id)
        for i, b in enumerate(found.get(tenant_id, [])):
            keys = {b.primary_region: b.key_arn, **b.replica_key_arns}
            if i == 0:  # connected, never replicated: the current key must reach it
                keys.update({r: "" for r in connected.get((tenant_id, b.account_id), set())
                             if r not in keys})
            targets = []
            for region in sorted(keys, key=lambda r: (r != b.primary_region, r)):
                row = rows.get((tenant_id, b.generation, region))
                if keys[region] and (force_drill or row is None or row.drilled_at is None or
                                     now - row.drilled_at.replace(tzinfo=UTC) >= every):
                    due.add((tenant_id, keys[region], region))
                targets.append(Target(region, keys[region], region == b.primary_region))
            plan.generations.append((b, targets))
    samples = _samples(session, due)
    for plan in plans.values():
        for _, targets in plan.generations:
            for t in targets:
                t.sample = samples.get((plan.tenant_id, t.key_arn, t.region))
    return plans


def _samples(session: Session, due: set[tuple[str, str, str]]
             ) -> dict[tuple[str, str, str], Backup]:
    """The newest complete backup per due (tenant, key, region): one grouped query, then one
    lookup per key that has backups at all (drills are hourly, most tenants have none due)."""
    if not due:
        return {}
    newest = session.exec(
        select(Backup.tenant_id, Backup.key_arn, Backup.region,
               func.max(Backup.created_at))
        .where(col(Backup.tenant_id).in_({t for t, _, _ in due}),
               col(Backup.status) == "complete")
        .group_by(Backup.tenant_id, Backup.key_arn, Backup.region)).all()
    out = {}
    for tenant_id, key_arn, region, created in newest:
        if (tenant_id, key_arn, region) not in due:
            continue
        out[(tenant_id, key_arn, region)] = session.exec(select(Backup).where(
            Backup.tenant_id == tenant_id, Backup.key_arn == key_arn, Backup.region == region,
            col(Backup.status) == "complete", Backup.created_at == created).limit(1)).one()
    return out
