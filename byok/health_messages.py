"""Dataclasses of the key-health checks that cross Temporal (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HealthCheckInput:
    tenant_id: str
    requested_by: str = "schedule"  # schedule / sweep / cli / api
    force_drill: bool = False  # on demand: open a sample backup whatever the drill interval
    task_queue: str = ""  # of the check activities; "" = the workflow's own queue
    schedule_to_start_seconds: int = 120  # a check no worker takes by then is reported missed


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
    writes: int = 0  # rows inserted or updated


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
class BatchInput:
    """Tenants checked by one activity; `check_id` + "/" + tenant id names each check."""

    tenant_ids: list[str]
    check_id: str
    force_drill: bool = False


@dataclass
class MissedInput:
    check_id: str
    tenant_ids: list[str]
    waited: int  # seconds the check waited for a worker
    task_queue: str


@dataclass
class AlertNote:
    tenant_id: str
    alert_id: str


@dataclass
class BatchResult:
    checked: int = 0
    alerts: list[AlertNote] = field(default_factory=list)
    # Not checked here (throttled past the activity's patience, or a check that could not
    # finish): each is handed to its own KeyHealthWorkflow, which retries with backoff.
    deferred: list[str] = field(default_factory=list)
    gone: int = 0  # no key any more (offboarded since the listing)
    db_writes: int = 0  # rows inserted or updated
    recorded: list[str] = field(default_factory=list)  # heartbeat progress: already stored


@dataclass
class SweepInput:
    after: str = ""  # tenant-id cursor: a continued run starts behind the last tenant done
    concurrency: int = 4  # batch activities in flight
    batch_size: int = 100  # tenants per activity (checked on threads inside it)
    batches_per_run: int = 50  # then continue-as-new, keeping the history bounded
    task_queue: str = ""  # of the check activities; "" = the sweep's own queue
    schedule_to_start_seconds: int = 120  # a batch no worker takes by then is reported missed
    checked: int = 0
    failed: int = 0
    changed: int = 0
    handed_off: int = 0
    gone: int = 0
    missed: int = 0
    db_writes: int = 0


@dataclass
class SweepResult:
    checked: int
    failed: int
    changed: int
    handed_off: int = 0  # checked alone by their own KeyHealthWorkflow (throttled ones)
    gone: int = 0
    missed: int = 0  # tenants of batches no worker started in time (an audit event each)
    db_writes: int = 0


def schedule_id(tenant_id: str) -> str:
    """The id of a tenant's own key-health Schedule (BYOK_HEALTH_SCHEDULE=tenant)."""
    return f"key-health-{tenant_id}"
