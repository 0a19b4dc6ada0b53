"""Database models (sqlmodel): tenants, connections, wallet, tokens, key bindings, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timestamps are aware and UTC everywhere (sqlmodel's UTCDateTime enforces it)."""
    return datetime.now(UTC)


class TenantBase(SQLModel):
    name: str = Field(index=True, unique=True, max_length=64)


class TenantCreate(TenantBase):
    pass


class Tenant(TenantBase, table=True):
    id: str = Field(primary_key=True, max_length=40)
    webhook_url: str | None = Field(default=None, max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)


class TenantPublic(TenantBase):
    id: str
    created_at: datetime


class AwsConnectionBase(SQLModel):
    account_id: str = Field(max_length=12, min_length=12)
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class AwsConnectionCreate(AwsConnectionBase):
    pass


class AwsConnection(AwsConnectionBase, table=True):
    """A tenant's account, usable for reading workload data only once `verified`: its
    connection stack reported back with the token and the role proved to need the ExternalId."""

    __table_args__ = (UniqueConstraint("tenant_id", "account_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    state: str = Field(default="pending", max_length=16)  # pending / verified / failed
    role_name: str = Field(default="", max_length=64)
    external_id: str = Field(default="", max_length=128)
    token_hash: str | None = Field(default=None, max_length=64, index=True, unique=True)
    token_expires_at: datetime | None = None
    error_message: str | None = Field(default=None, max_length=2000)
    verified_at: datetime | None = None


class AwsConnectionPublic(AwsConnectionBase):
    tenant_id: str
    created_at: datetime
    state: str
    role_name: str
    external_id: str
    error_message: str | None
    verified_at: datetime | None


class Wallet(SQLModel, table=True):
    """The tenant's BYOK state as the console shows it; mutable, unlike KeyBinding."""

    tenant_id: str = Field(primary_key=True, foreign_key="tenant.id", max_length=40)
    state: str = Field(default="Waiting", max_length=16, index=True)
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=2000)
    account_native_id: str | None = Field(default=None, max_length=12)
    role_arn: str | None = Field(default=None, max_length=2048)
    external_id: str | None = Field(default=None, max_length=128)
    key_arn: str | None = Field(default=None, max_length=2048)
    replica_key_arns: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    installed_regions: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    key_errors: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    progress: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    stack_version: int | None = None
    # "service" or "tenant": who creates the replicas, as the tenant's stack reported it.
    replica_management: str | None = Field(default=None, max_length=16)
    workflow_id: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=200)
    token_expires_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class EnableToken(SQLModel, table=True):
    """A 36-character single-use token, stored only as its SHA-256."""

    token_hash: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    account_id: str = Field(max_length=12)
    external_id: str = Field(max_length=128, index=True)
    purpose: str = Field(default="enable", max_length=16)
    workflow_id: str = Field(max_length=200)
    expires_at: datetime
    used_at: datetime | None = None
    callback_fingerprint: str | None = Field(default=None, max_length=64)
    voided_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class KeyBinding(SQLModel, table=True):
    """One frozen key generation of a tenant; rows are never updated nor deleted."""

    __table_args__ = (UniqueConstraint("tenant_id", "generation"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    generation: int
    account_id: str = Field(max_length=12)
    role_arn: str = Field(max_length=2048)
    external_id: str = Field(max_length=128)
    key_arn: str = Field(max_length=2048)
    primary_region: str = Field(max_length=32)
    multi_region: bool = True
    replica_key_arns: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    template_version: int
    enabled_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """One link of a tenant's append-only hash chain."""

    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        UniqueConstraint("tenant_id", "event_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True, max_length=40)
    seq: int
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    event_key: str | None = Field(default=None, max_length=300)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # The BYOK_AUDIT_KEYS id the link is sealed with; None only for links written before
    # the chain was keyed (plain SHA-256).
    key_id: str | None = Field(default=None, max_length=40)


class AuditEventPublic(SQLModel):
    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]
    hash: str


class AuditHead(SQLModel, table=True):
    """The newest link of each chain, kept apart so that deleting the last events shows."""

    tenant_id: str = Field(primary_key=True, max_length=40)
    seq: int
    hash: str = Field(max_length=64)


class ApiKey(SQLModel, table=True):
    """A tenant's API key, stored as its SHA-256; shown once at creation, revocable."""

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    name: str = Field(max_length=100)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Backup(SQLModel, table=True):
    """One backup in the catalog; `complete` only after its last frame is durably written."""

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    workload: str = Field(max_length=32, index=True)
    source: str = Field(max_length=2048)
    region: str = Field(max_length=32)
    plaintext_size: int = 0
    stored_size: int = 0
    sha256: str | None = Field(default=None, max_length=64)  # SHA-256 backups only
    # The plaintext digest and its algorithm (docs/FORMAT.md): blake3 for new backups,
    # sha256 for those taken before; a restore checks with the backup's own algorithm.
    digest: str | None = Field(default=None, max_length=128)
    digest_alg: str = Field(default="sha256", max_length=16)
    key_arn: str = Field(max_length=2048, index=True)
    key_kind: str = Field(max_length=16)  # byok / default / legacy
    key_generation: int | None = None
    object_key: str = Field(max_length=1024)
    status: str = Field(default="pending", max_length=16, index=True)
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class Restore(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    backup_id: str = Field(foreign_key="backup.id", index=True, max_length=40)
    target: str = Field(max_length=2048)
    status: str = Field(default="pending", max_length=16)
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class KeyHealth(SQLModel, table=True):
    """The last checked health of one key generation in one region (one row each)."""

    __table_args__ = (UniqueConstraint("tenant_id", "generation", "region"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    generation: int
    region: str = Field(max_length=32)
    key_arn: str = Field(max_length=2048)
    is_primary: bool = False
    state: str = Field(max_length=16)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    checked_at: datetime = Field(default_factory=utcnow)
    changed_at: datetime = Field(default_factory=utcnow)
    drilled_at: datetime | None = None
    drilled_backup: str | None = Field(default=None, max_length=40)


class TenantHealth(SQLModel, table=True):
    """A tenant's overall key health; `signature` changes exactly when an alert is due."""

    tenant_id: str = Field(primary_key=True, foreign_key="tenant.id", max_length=40)
    state: str = Field(max_length=16, index=True)
    signature: str = Field(max_length=4000)
    warnings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    checks: int = 0
    last_check_id: str | None = Field(default=None, max_length=300)
    checked_at: datetime = Field(default_factory=utcnow)
    changed_at: datetime = Field(default_factory=utcnow)


class HealthAlert(SQLModel, table=True):
    """One alert per health change: the history of states and the console's alert list."""

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=40)
    check_id: str = Field(max_length=300, unique=True)
    previous_state: str | None = Field(default=None, max_length=16)
    state: str = Field(max_length=16)
    title: str = Field(max_length=300)
    message: str = Field(max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    delivery_status: str = Field(default="pending", max_length=16)
    delivery_attempts: int = 0
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AlertDelivery(SQLModel, table=True):
    """Each webhook attempt of an alert, kept whatever its outcome."""

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(foreign_key="healthalert.id", index=True, max_length=40)
    attempt: int
    url: str = Field(max_length=2048)
    status_code: int | None = None
    ok: bool = False
    error: str | None = Field(default=None, max_length=2000)
    duration_ms: int = 0
    at: datetime = Field(default_factory=utcnow)
