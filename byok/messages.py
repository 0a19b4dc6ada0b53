"""Dataclasses that cross Temporal: one in and one out for every workflow, activity, signal
and query. Standard library only, and never a secret (tokens and ExternalIds stay in the DB)."""

from __future__ import annotations

from dataclasses import dataclass, field

from byok.custom_resource import StackRequest


@dataclass
class EnableInput:
    tenant_id: str
    account_id: str
    token_expires_at: str  # ISO-8601 UTC, for people; the workflow's own deadline is below
    token_ttl_seconds: int
    requested_by: str = "tenant"
    # Set by the run that continued as new: where its wait for the stack stood.
    resume: WaitState | None = None
    # A run continues as new past this many history events (Temporal's limit is 51,200).
    max_run_events: int = 5000


@dataclass
class WaitState:
    """The wait for the stack, carried from one run to the next by continue-as-new."""

    deadline: str  # ISO-8601 UTC: the token's expiry on the workflow's clock
    callback: StackCallback | None = None  # a report this run received, not yet acted on


@dataclass
class StackCallback:
    """What the stack's custom resource reported (the token was checked and consumed)."""

    request_type: str
    account_native_id: str
    aws_region: str
    role_arn: str
    role_id: str
    multi_region_cmk_key_id: str
    created_multi_region_cmk: bool
    template_version: int
    source: str = "callback"  # "queue" when it came through SNS and SQS
    # The custom-resource request it came in (None on the HTTP route): what we answer.
    request: StackRequest | None = None
    # Who creates the replicas: "service" (ReplicateKey) or "tenant" (StackSet/Terraform).
    replica_management: str = "service"


@dataclass
class WalletView:
    tenant_id: str
    state: str
    step: str = ""
    error_code: str | None = None
    error_message: str | None = None
    account_native_id: str | None = None
    role_arn: str | None = None
    key_arn: str | None = None
    replica_key_arns: dict[str, str] = field(default_factory=dict)
    installed_regions: list[str] = field(default_factory=list)
    key_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    stack_version: int | None = None
    replica_management: str | None = None


@dataclass
class TenantRef:
    tenant_id: str


@dataclass
class Preflight:
    """Facts the workflow needs from the database before it starts waiting."""

    tenant_id: str
    account_id: str
    regions: list[str]
    control_plane_region: str
    # The template version this release offers, recorded in history by the activity so that
    # a migration never branches on a constant the next release changes (0: an older run).
    template_version: int = 0


@dataclass
class RoleCheck:
    tenant_id: str
    account_id: str
    role_arn: str
    region: str


@dataclass
class KeyCheck:
    tenant_id: str
    account_id: str
    role_arn: str
    key_id: str
    region: str


@dataclass
class KeyFacts:
    key_arn: str
    key_id: str
    region: str
    multi_region: bool


@dataclass
class ReplicaInput:
    tenant_id: str
    role_arn: str
    primary_key_arn: str
    region: str


@dataclass
class ReplicaCheck:
    """Tenant-managed replicas: is there a usable replica of the primary in each region?"""

    tenant_id: str
    role_arn: str
    primary_key_arn: str
    regions: list[str]


@dataclass
class ReplicaResult:
    region: str
    ok: bool
    key_arn: str = ""
    error_code: str = ""
    error_message: str = ""


@dataclass
class ReplicaReport:
    results: list[ReplicaResult]


@dataclass
class WalletUpdate:
    tenant_id: str
    state: str | None = None
    step: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    account_native_id: str | None = None
    role_arn: str | None = None
    key_arn: str | None = None
    replica_key_arns: dict[str, str] | None = None
    installed_regions: list[str] | None = None
    key_errors: dict[str, dict[str, str]] | None = None
    stack_version: int | None = None
    void_token: bool = False
    replica_management: str | None = None


@dataclass
class FreezeInput:
    tenant_id: str
    account_id: str
    role_arn: str
    key_arn: str
    primary_region: str
    replica_key_arns: dict[str, str]
    template_version: int
    multi_region: bool = True


@dataclass
class AuditInput:
    tenant_id: str
    action: str
    actor: str
    details: dict[str, object] = field(default_factory=dict)
    event_key: str | None = None


@dataclass
class Done:
    ok: bool = True


@dataclass
class AnchorInput:
    reason: str = "schedule"


@dataclass
class AnchorResult:
    name: str
    chains: int


@dataclass
class BackupInput:
    tenant_id: str
    backup_id: str
    workload: str
    source: str
    region: str
    requested_by: str = "tenant"


@dataclass
class BackupPlan:
    """Which key and where: decided once, before any byte is read."""

    tenant_id: str
    backup_id: str
    workload: str
    source: str
    region: str
    key_kind: str  # byok / default / legacy
    key_arn: str  # empty for the default key until resolved in the region
    object_key: str
    source_account: str = ""
    heartbeat_seconds: int = 30  # BYOK_TRANSFER_HEARTBEAT_SECONDS: the heartbeat timeout


@dataclass
class BackupResult:
    tenant_id: str
    backup_id: str
    ok: bool
    key_arn: str = ""
    plaintext_size: int = 0
    stored_size: int = 0
    sha256: str = ""  # set only for SHA-256 backups; `digest` holds it under any algorithm
    error_code: str = ""
    error_message: str = ""
    digest: str = ""
    digest_alg: str = "sha256"
    resumed_bytes: int = 0  # plaintext this attempt took over from an earlier one's partial


@dataclass
class RestoreInput:
    tenant_id: str
    restore_id: str
    backup_id: str
    target: str
    force: bool = False
    requested_by: str = "tenant"


@dataclass
class RestorePlan:
    tenant_id: str
    restore_id: str
    backup_id: str
    target: str
    force: bool
    object_key: str
    key_arn: str
    workload: str
    region: str
    sha256: str
    plaintext_size: int
    digest: str = ""  # the catalog's plaintext digest under digest_alg
    digest_alg: str = "sha256"
    heartbeat_seconds: int = 30  # BYOK_TRANSFER_HEARTBEAT_SECONDS: the heartbeat timeout


@dataclass
class RestoreResult:
    tenant_id: str
    restore_id: str
    ok: bool
    plaintext_size: int = 0
    error_code: str = ""
    error_message: str = ""
    resumed_bytes: int = 0  # plaintext this attempt took over from an earlier one's partial
