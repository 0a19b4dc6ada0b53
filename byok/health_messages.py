"""Dataclasses of the key-health checks that cross Temporal (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HealthCheckInput:
    tenant_id: str
    requested_by: str = "schedule"  # schedule / sweep / cli / api
    force_drill: bool = False  # on demand: open a sample backup whatever the drill interval


@dataclass
class Finding:
    """One problem with one key in one region; `state` is what it does to that region."""

    code: str
    state: str
    region: str
    key_arn: str
    generation: int
    message: str
    remedy: str = ""
    deletion_date: str | None = None  # ISO-8601 UTC, pending deletion only
    days_left: float | None = None


@dataclass
class RegionHealth:
    generation: int
    region: str
    key_arn: str
    primary: bool
    state: str
    findings: list[Finding] = field(default_factory=list)
    drilled_backup: str | None = None  # the backup the restore drill opened, if one did


@dataclass
class HealthReport:
    tenant_id: str
    checked_at: str
    regions: list[RegionHealth] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)  # no effect on states (ExternalId)


@dataclass
class RecordInput:
    check_id: str  # one per workflow run: a retried record writes (and alerts) once
    report: HealthReport


@dataclass
class RecordResult:
    tenant_id: str
    state: str
    previous_state: str | None = None
    alert_id: str | None = None  # set when this check changed the health: one alert
    irretrievable: int = 0  # backups newly marked irretrievable


@dataclass
class HealthOutcome:
    tenant_id: str
    checked: bool
    state: str = ""
    alert_id: str | None = None
    error: str = ""


@dataclass
class AlertRef:
    alert_id: str


@dataclass
class DeliveryResult:
    alert_id: str
    delivered: bool
    status: str  # delivered / no_webhook / already_delivered


@dataclass
class TenantPageInput:
    after: str = ""
    limit: int = 500


@dataclass
class TenantPage:
    tenant_ids: list[str] = field(default_factory=list)


@dataclass
class SweepInput:
    after: str = ""  # tenant-id cursor: a continued run starts behind the last tenant done
    concurrency: int = 50
    page_size: int = 500
    tenants_per_run: int = 500  # then continue-as-new, keeping the history bounded
    handoff_seconds: int = 10  # checks still running then go on alone (nobody waits for them)
    checked: int = 0
    failed: int = 0
    changed: int = 0
    handed_off: int = 0


@dataclass
class SweepResult:
    checked: int
    failed: int
    changed: int
    handed_off: int = 0  # outlived their run's hand-off; their results are in the database
