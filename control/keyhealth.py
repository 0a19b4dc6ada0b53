"""Key health as the CLI, API and console show it: every key generation and region, labelled."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from byok import crud, health_alerts, keyring
from byok.db import session_scope
from byok.models import Backup, KeyBinding

HEALTHY, NOT_CHECKED = "Healthy", "NotChecked"


def keys(bindings: list[KeyBinding]) -> list[dict[str, Any]]:
    """The tenant's keyring, newest first: the current key, then legacy (decrypt only) ones."""
    return [{"generation": b.generation, "kind": "current" if i == 0 else "legacy",
             "key_arn": b.key_arn, "primary_region": b.primary_region,
             "replica_key_arns": dict(b.replica_key_arns), "multi_region": b.multi_region,
             "template_version": b.template_version}
            for i, b in enumerate(bindings)]


def _kinds(bindings: list[KeyBinding]) -> dict[str, tuple[int, str]]:
    out: dict[str, tuple[int, str]] = {}
    for i, b in enumerate(bindings):
        for arn in (b.key_arn, *b.replica_key_arns.values()):
            out[arn] = (b.generation, "current" if i == 0 else "legacy")
    return out


def view(session: Session, wallet: dict[str, Any],
         check: dict[str, Any] | None = None) -> dict[str, Any]:
    tenant_id = wallet["tenant_id"]
    raw = health_alerts.view(session, tenant_id)
    bindings = keyring.bindings(session, tenant_id)
    current = bindings[0].generation if bindings else None
    regions = [{**r, "kind": "current" if r["generation"] == current else "legacy"}
               for r in raw["regions"]]
    seen = {(r["generation"], r["region"]) for r in regions}
    for b in bindings:  # before the first check (or a new key): shown as not checked yet
        for region, arn in ((b.primary_region, b.key_arn), *b.replica_key_arns.items()):
            if (b.generation, region) not in seen:
                regions.append({"generation": b.generation, "region": region, "key_arn": arn,
                                "primary": region == b.primary_region, "state": NOT_CHECKED,
                                "findings": [], "checked_at": None, "changed_at": None,
                                "kind": "current" if b.generation == current else "legacy"})
    regions.sort(key=lambda r: (-r["generation"], not r["primary"], r["region"]))
    kinds = _kinds(bindings)
    radius = [{**e, "generation": kinds.get(e["key_arn"], (None, "unknown"))[0],
               "kind": kinds.get(e["key_arn"], (None, "unknown"))[1]}
              for e in raw["blast_radius"]]
    return {"tenant_id": tenant_id, "wallet_state": wallet["state"], "state": raw["state"],
            "checked_at": raw["checked_at"], "changed_at": raw["changed_at"],
            "checks": raw["checks"], "regions": regions, "findings": raw["findings"],
            "blast_radius": radius, "alerts": raw["alerts"],
            "key_errors": wallet.get("key_errors") or {}, "check": check,
            "keys": keys(bindings)}


def with_health(engine: Engine, wallet: dict[str, Any],
                check: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wallet with its `health` replaced by the full view."""
    with session_scope(engine) as session:
        wallet["health"] = view(session, wallet, check)
    return wallet


def backup_rows(session: Session, rows: list[Backup]) -> list[dict[str, Any]]:
    """Catalog rows with the key kind of today (legacy after a migration) and their state:
    ok, paused (the key in that region is not Healthy), irretrievable, running or failed."""
    if not rows:
        return []
    tenant_id = rows[0].tenant_id
    bindings = keyring.bindings(session, tenant_id)
    kinds = _kinds(bindings)
    health = {(r["key_arn"], r["region"]): r for r in
              health_alerts.view(session, tenant_id, alerts=0)["regions"]}
    out = []
    for row in rows:
        data = row.model_dump()
        if data["key_kind"] != "default" and kinds.get(row.key_arn, (0, ""))[1] == "legacy":
            data["key_kind"] = "legacy"
        state, reason = {"pending": ("running", None), "failed": ("failed", row.error),
                         "irretrievable": ("irretrievable", "its key was deleted")}.get(
            row.status, ("ok", None))
        region = health.get((row.key_arn, row.region))
        if state == "ok" and region and region["state"] != HEALTHY:
            first = region["findings"][0] if region["findings"] else {"code": region["state"]}
            state, reason = "paused", f"key {region['state']} in {row.region}: {first['code']}"
        data.update(state=state, state_reason=reason)
        out.append(data)
    return out


def health_view(engine: Engine, tenant: str) -> dict[str, Any]:
    """The last recorded health of the tenant's keys, per region, with alerts and radius."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return {"tenant_id": t.id, **health_alerts.view(session, t.id)}

