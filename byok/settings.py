"""The one settings class (prefix BYOK_), built by each entry point and passed down."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from byok.errors import InvalidSettings

AWS_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")


class Settings(BaseSettings):
    """Defaults describe the embedded stack: one machine, nothing to install but Python."""

    model_config = SettingsConfigDict(env_prefix="BYOK_", extra="ignore", frozen=True)

    home: Path = Path(".byok")
    database_url: str = ""  # empty = SQLite file under home
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://localhost:8233"
    task_queue: str = "byok-vault"

    aws_endpoint_url: str = "http://127.0.0.1:4566"  # empty = real AWS
    localaws_port: int = Field(default=4566, ge=1, le=65535)
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://localhost:8000"

    control_plane_region: str = "us-east-1"
    service_account_id: str = "111122223333"
    service_role_name: str = "ByokVaultService"
    assume_service_role: bool = True  # False when the process already runs as that role
    # The role backups read tenants' data through; empty = localaws, where a 12-digit
    # access key id acts as that account.
    connection_role_name: str = ""
    callback_topic_name: str = "byok-vault-stack-callbacks"
    vault_bucket: str = "byok-vault-backups"
    # Tenant templates are published here (`byok service publish-templates`); CloudFormation
    # only takes S3 URLs.
    template_bucket: str = "byok-vault-templates"
    vault_backend: str = Field(default="file", pattern="^(file|s3)$")
    default_key_alias: str = "alias/byok-vault-default"

    token_ttl_days: int = Field(default=7, ge=1, le=90)
    poll_initial_seconds: int = Field(default=30, ge=1)
    poll_max_seconds: int = Field(default=900, ge=1)
    health_interval_seconds: int = Field(default=300, ge=10)
    # Restore drills open a real backup per key and region; 0 = on every check.
    health_drill_interval_seconds: int = Field(default=3600, ge=0)
    health_sweep_concurrency: int = Field(default=50, ge=1, le=1000)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    keycache_max_age_seconds: int = Field(default=300, ge=1)
    keycache_max_uses: int = Field(default=10_000, ge=1)
    keycache_max_entries: int = Field(default=1_000, ge=1)
    frame_size: int = Field(default=1 << 20, ge=4096, le=64 << 20)

    operator_api_key: str = "dev-operator-key-change-me"  # dev default; compose requires a real one
    session_secret: str = "dev-session-secret-change-me"  # noqa: S105 - dev default

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

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'byok.db'}"

    @property
    def service_role_arn(self) -> str:
        return f"arn:aws:iam::{self.service_account_id}:role/{self.service_role_name}"

    @property
    def callback_topic_arn(self) -> str:
        region = self.control_plane_region
        return f"arn:aws:sns:{region}:{self.service_account_id}:{self.callback_topic_name}"

    @property
    def vault_dir(self) -> Path:
        return self.home / "vault"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; an invalid value names its variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"BYOK_{field.upper()}: {err['msg']}")
        raise InvalidSettings("invalid settings: " + "; ".join(problems)) from None
