"""The one settings class (prefix BYOK_), built by each entry point and passed down."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from byok.errors import InvalidSettings
from byok.keyspec import dev_key, parse_keys
from byok.partition import arn, partition_for
from byok.queues import transfer_queue

AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
# S3's rules for new bucket names (no uppercase, no underscores, 3-63 characters).
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,76}$")


class Settings(BaseSettings):
    """Defaults describe the embedded stack: one machine, nothing to install but Python."""

    model_config = SettingsConfigDict(env_prefix="BYOK_", extra="ignore", frozen=True)

    home: Path = Path(".byok")
    database_url: str = ""  # empty = SQLite file under home
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://localhost:8233"  # operators only: never shown to tenants
    # mTLS to a Temporal cluster: PEM files. The CA verifies the server (empty = the system's
    # roots); the client certificate and its key prove this process. Any set = TLS on.
    temporal_tls_ca: str = ""
    temporal_tls_cert: str = ""
    temporal_tls_key: str = ""
    temporal_tls_server_name: str = ""  # when the certificate names another host
    task_queue: str = "byok-vault"  # control work; transfers go to its "-transfer" twin
    # Which queues this worker process polls: both on one machine, one each when scaled apart.
    worker_queues: str = Field(default="control,transfer",
                               pattern=r"^(control|transfer)(,(control|transfer))?$")
    control_slots: int = Field(default=64, ge=1, le=1000)  # concurrent control activities
    transfer_slots: int = Field(default=8, ge=1, le=1000)  # concurrent backups and restores
    # On SIGTERM/SIGINT: stop polling, give running activities this long, then cancel them.
    worker_shutdown_seconds: float = Field(default=20.0, ge=0, le=3600)
    # A transfer whose worker stops heartbeating this long is retried (resuming) elsewhere.
    transfer_heartbeat_seconds: int = Field(default=30, ge=2, le=600)
    # How often a transfer fsyncs its partial file and heartbeats that checkpoint: a crash
    # loses at most about this much work (one heartbeat RPC per transfer per interval).
    transfer_checkpoint_seconds: float = Field(default=1.0, ge=0, le=60)
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0 = no metrics endpoint
    consumer_metrics_port: int = Field(default=9465, ge=0, le=65535)  # the callback consumer's
    otel_endpoint: str = ""  # OTLP/HTTP traces endpoint; empty = no tracing

    aws_endpoint_url: str = "http://127.0.0.1:4566"  # empty = real AWS
    localaws_port: int = Field(default=4566, ge=1, le=65535)
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    # `byok up`'s codec server for the Temporal UI (loopback only); 0 = none.
    codec_port: int = Field(default=8234, ge=0, le=65535)
    public_url: str = "http://localhost:8000"
    # Where tenants' Terraform fetches terraform/byok-vault (a registry address, a git URL);
    # empty = the zip the web app serves at /api/v1/terraform/byok-vault.zip.
    terraform_module_source: str = ""

    control_plane_region: str = "us-east-1"
    service_account_id: str = "111122223333"
    service_role_name: str = "ByokVaultService"
    assume_service_role: bool = True  # False when the process already runs as that role
    callback_topic_name: str = Field(default="byok-vault-stack-callbacks",
                                     pattern=r"^[A-Za-z0-9_-]{1,256}$")
    callback_queue_name: str = "byok-vault-stack-callbacks"  # its dead-letter queue: <name>-dlq
    # The service's own CloudFormation stack (byok/templates/service.yaml) and its inputs.
    service_stack_name: str = Field(default="byok-vault-service",
                                    pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    tenant_role_name_pattern: str = Field(default="ByokVault*",
                                          pattern=r"^[A-Za-z0-9_+=,.@*-]{1,64}$")
    callback_max_receive_count: int = Field(default=5, ge=1, le=1000)
    # Tenant templates are published here (`byok service publish-templates`); CloudFormation
    # only takes S3 URLs.
    template_bucket: str = "byok-vault-templates"
    template_prefix: str = Field(default="templates/", pattern=r"^[A-Za-z0-9._-]+/$")
    vault_bucket: str = "byok-vault-backups"
    vault_backend: str = Field(default="file", pattern="^(file|s3)$")
    default_key_alias: str = "alias/byok-vault-default"

    token_ttl_days: int = Field(default=7, ge=1, le=90)
    # How long a just-created role, key or replica may answer NotFound/AccessDenied before
    # that answer is taken as final (AWS's eventual consistency).
    aws_consistency_seconds: float = Field(default=30, ge=0, le=300)
    health_interval_seconds: int = Field(default=300, ge=10)
    # sweep = one Schedule sweeps every tenant; tenant = a Schedule per tenant; off = none.
    health_schedule: str = Field(default="sweep", pattern="^(sweep|tenant|off)$")
    # Restore drills open a real backup per key and region; 0 = on every check.
    health_drill_interval_seconds: int = Field(default=3600, ge=0)
    health_sweep_concurrency: int = Field(default=4, ge=1, le=1000)  # batches in flight
    health_batch_size: int = Field(default=100, ge=1, le=1000)  # tenants per activity
    # Threads checking tenants inside one batch activity (each mostly waits on AWS).
    health_batch_threads: int = Field(default=16, ge=1, le=256)
    # A check that no worker starts within this is reported missed (audit event, alert).
    health_schedule_to_start_seconds: int = Field(default=120, ge=5)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Webhooks go to public https endpoints only. The dev override also admits http and
    # loopback (the tests' and demo's local receivers); unset = on only on the embedded stack
    # (BYOK_AWS_ENDPOINT_URL set), and refused at start-up on real AWS.
    webhook_allow_loopback: bool | None = None

    keycache_max_age_seconds: int = Field(default=300, ge=1)
    keycache_max_uses: int = Field(default=10_000, ge=1)
    keycache_max_entries: int = Field(default=1_000, ge=1)
    frame_size: int = Field(default=1 << 20, ge=4096, le=64 << 20)
    # The largest file a tenant may upload through POST /api/v1/uploads (streamed to disk).
    upload_max_bytes: int = Field(default=1 << 30, ge=1)

    # Limits of the web app: events per client (or per tenant for checks) in a sliding window,
    # then 429 with Retry-After; counted in each web process's memory (web/ratelimit.py).
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86400)
    rate_limit_signin: int = Field(default=10, ge=1)  # console sign-in attempts per client
    rate_limit_auth_failures: int = Field(default=10, ge=1)  # bad Bearer/operator keys per client
    rate_limit_callback: int = Field(default=30, ge=1)  # stack callbacks per client
    rate_limit_checks: int = Field(default=6, ge=1)  # on-demand checks/refreshes per tenant
    # Request bodies above this are refused (413) before parsing; streamed uploads excepted.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 << 20)

    operator_api_key: str = "dev-operator-key-change-me"  # dev default; compose requires a real one
    session_secret: str = "dev-session-secret-change-me"  # noqa: S105 - dev default
    # Temporal payloads and failures are encrypted with these (id:base64 32-byte keys, newest
    # first); the audit chain is keyed (HMAC) with its own. Dev defaults are public.
    payload_keys: str = dev_key("payload")
    audit_keys: str = dev_key("audit")
    # Every chain's head is sealed and written outside the database this often (a folder
    # under home, or the vault bucket with BYOK_VAULT_BACKEND=s3, there under Object Lock
    # for BYOK_AUDIT_ANCHOR_LOCK_DAYS when > 0: the bucket must have Object Lock enabled).
    audit_anchor_interval_seconds: int = Field(default=3600, ge=60)
    audit_anchor_lock_days: int = Field(default=0, ge=0, le=3650)

    @model_validator(mode="after")
    def _temporal_tls(self) -> Settings:
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            given, missing = (("cert", "key") if self.temporal_tls_cert else ("key", "cert"))
            raise ValueError(f"BYOK_TEMPORAL_TLS_{given.upper()} is set without "
                             f"BYOK_TEMPORAL_TLS_{missing.upper()}: a client certificate "
                             "needs its private key (and a key its certificate)")
        if self.temporal_tls_server_name and not self.temporal_tls:
            raise ValueError("BYOK_TEMPORAL_TLS_SERVER_NAME is set but TLS is not: set "
                             "BYOK_TEMPORAL_TLS_CA (and the client certificate and key)")
        return self

    @property
    def webhooks_may_use_loopback(self) -> bool:
        if self.webhook_allow_loopback is None:
            return bool(self.aws_endpoint_url)
        return self.webhook_allow_loopback

    @property
    def temporal_tls(self) -> bool:
        return bool(self.temporal_tls_ca or self.temporal_tls_cert or self.temporal_tls_key)

    @field_validator("payload_keys", "audit_keys")
    @classmethod
    def _keys(cls, v: str) -> str:
        parse_keys(v)  # the error's location names the variable
        return v

    @field_validator("control_plane_region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not AWS_REGION_RE.match(v):
            raise ValueError(f"{v!r} is not an AWS region name (like us-east-1)")
        return v

    @field_validator("service_account_id")
    @classmethod
    def _account(cls, v: str) -> str:
        if not ACCOUNT_ID_RE.match(v):
            raise ValueError(f"{v!r} is not a 12-digit AWS account id")
        return v

    @field_validator("vault_bucket", "template_bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if v and (not BUCKET_RE.match(v) or ".." in v):
            raise ValueError(f"{v!r} is not a valid S3 bucket name (3-63 lowercase letters, "
                             "digits, dots and hyphens)")
        return v

    @field_validator("callback_queue_name")
    @classmethod
    def _queue(cls, v: str) -> str:
        # 76, not 80: the dead-letter queue's name adds "-dlq".
        if not QUEUE_NAME_RE.match(v):
            raise ValueError(f"{v!r} is not a valid SQS queue name (1-76 letters, digits, "
                             "hyphens and underscores)")
        return v

    @property
    def partition(self) -> str:
        """The AWS partition of the control-plane region (aws, aws-cn, aws-us-gov)."""
        return partition_for(self.control_plane_region)

    def role_arn(self, account_id: str, role_name: str) -> str:
        """A role's ARN in the service's partition (tenants' accounts share it)."""
        return arn(self.control_plane_region, "iam", account_id, f"role/{role_name}",
                   arn_region="")

    def key_arn(self, region: str, account_id: str, key_id: str) -> str:
        return arn(region, "kms", account_id, f"key/{key_id}")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'byok.db'}"

    @property
    def transfer_task_queue(self) -> str:
        return transfer_queue(self.task_queue)

    @property
    def polled_queues(self) -> set[str]:
        return set(self.worker_queues.split(","))

    @property
    def service_role_arn(self) -> str:
        return arn(self.control_plane_region, "iam", self.service_account_id,
                   f"role/{self.service_role_name}", arn_region="")

    @property
    def callback_topic_arn(self) -> str:
        return arn(self.control_plane_region, "sns", self.service_account_id,
                   self.callback_topic_name)

    @property
    def vault_dir(self) -> Path:
        return self.home / "vault"

    @property
    def anchor_dir(self) -> Path:
        return self.home / "audit-anchors"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; an invalid value names its variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"]:  # a check across fields: its message names the variables
                problems.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            problems.append(f"BYOK_{str(err['loc'][0]).upper()}: {err['msg']}")
        raise InvalidSettings("invalid settings: " + "; ".join(problems)) from None
