"""Response models of key health: per-region state, findings, blast radius, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

STATES = "Healthy, Degraded, AtRisk, Unavailable, Lost, or NotChecked (no check has run yet)."


class FindingOut(BaseModel):
    code: str = Field(examples=["KEY_PENDING_DELETION"])
    state: str = Field(description="What the finding does to its region.")
    region: str
    key_arn: str
    generation: int
    message: str
    remedy: str = Field(default="", description="What to do about it.")
    deletion_date: str | None = Field(default=None,
                                      description="KEY_PENDING_DELETION: when (ISO-8601 UTC).")
    days_left: float | None = None


class RegionHealthOut(BaseModel):
    generation: int = Field(description="The key generation: the highest is the current key.")
    kind: str = Field(description="current, or legacy (decrypt only, kept for old backups).")
    region: str
    key_arn: str
    primary: bool
    state: str = Field(description=STATES)
    findings: list[FindingOut] = []
    checked_at: datetime | None = None
    changed_at: datetime | None = None


class WorkloadStake(BaseModel):
    backups: int
    bytes: int


class BlastRadiusOut(BaseModel):
    """The complete backups that depend on one key in one region."""

    key_arn: str
    region: str
    generation: int | None = None
    kind: str = Field(description="current, legacy, or unknown (not in the keyring).")
    backups: int
    bytes: int
    stored_bytes: int
    by_workload: dict[str, WorkloadStake]


class AlertOut(BaseModel):
    id: str
    at: datetime
    from_state: str | None = Field(default=None, alias="from")
    to: str
    title: str
    message: str
    delivery: str = Field(description="Webhook delivery: pending, delivered, failed, none.")

    model_config = {"populate_by_name": True}


class CheckOut(BaseModel):
    checked: bool = Field(description="false: the check did not finish; the health shown is "
                                      "from the last completed check.")
    error: str = ""
    alert_id: str | None = Field(default=None, description="Set when this check changed the "
                                                           "health (one alert per change).")


class KeyOut(BaseModel):
    """One key generation of the tenant's keyring."""

    generation: int
    kind: str = Field(description="current (new backups), or legacy (decrypt only: kept for "
                                  "the backups taken under it).")
    key_arn: str
    primary_region: str
    replica_key_arns: dict[str, str] = {}
    multi_region: bool
    template_version: int


class HealthOut(BaseModel):
    tenant_id: str
    wallet_state: str
    state: str = Field(description="Overall: " + STATES)
    checked_at: datetime | None = Field(default=None, description="null: never checked.")
    changed_at: datetime | None = None
    checks: int = 0
    regions: list[RegionHealthOut]
    findings: list[FindingOut]
    blast_radius: list[BlastRadiusOut]
    alerts: list[AlertOut]
    key_errors: dict[str, Any] = Field(default={}, description="Per-region problems found "
                                                               "while enabling.")
    check: CheckOut | None = Field(default=None, description="The on-demand check just run.")
    keys: list[KeyOut] = Field(default=[], description="The keyring, newest first.")
