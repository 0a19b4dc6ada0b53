"""Request and response models of the JSON API (what the OpenAPI document shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from web.schemas_health import HealthOut


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is named instead of ignored."""

    model_config = ConfigDict(extra="forbid")


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(examples=["INVALID_INPUT"])
    message: str
    field: str | None = Field(default=None, description="The input field at fault, if any.")
    fields: list[FieldProblem] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class TenantIn(Strict):
    name: str = Field(min_length=1, max_length=64, examples=["acme"])


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: datetime


class ConnectionIn(Strict):
    account_id: str = Field(min_length=1, max_length=64, examples=["444455556666"])
    regions: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=40, examples=[["us-east-1"]])


class ConnectionOut(BaseModel):
    tenant_id: str
    account_id: str
    regions: list[str]
    created_at: datetime
    state: str = Field(description="pending (stack not reported yet), verified (usable) or "
                       "failed (error_message says why)")
    role_name: str
    role_arn: str
    external_id: str
    error_message: str | None = None
    verified_at: datetime | None = None
    token_expires_at: datetime | None = None
    token: str | None = Field(default=None, description="Only in the answer that issued it.")
    template_url: str
    deployment_url: str | None = Field(default=None,
                                       description="Quick-create link (with the token).")
    stack_name: str
    service_account_id: str
    next_step: str


class ApiKeyIn(Strict):
    name: str = Field(default="default", min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyIssuedOut(ApiKeyOut):
    key: str = Field(description="The secret key: shown in this response only, never again.")


class EnableIn(Strict):
    account: str = Field(min_length=1, max_length=64, examples=["444455556666"],
                         description="The 12-digit AWS account that holds the key.")
    accept_irretrievable: bool = Field(description="Deleting the CMK or the AWS account makes "
                                       "the backups permanently irretrievable.")
    accept_immutable: bool = Field(description="Once enabled, the CMK and the AWS account can "
                                   "never be changed.")


class EnableIssuedOut(BaseModel):
    """Everything needed to deploy the stack; the token is shown here once and never again."""

    tenant_id: str
    account_native_id: str
    token: str
    external_id: str
    expires_at: str
    workflow_id: str
    template_url: str
    deployment_url: str
    service_account_id: str
    stack_name: str


class WalletOut(BaseModel):
    tenant_id: str
    tenant_name: str
    state: str = Field(description="NotConfigured, Waiting, Enabled or Error.")
    error_code: str | None = None
    error_message: str | None = None
    key_errors: dict[str, Any] = {}
    account_native_id: str | None = None
    role_arn: str | None = None
    key_arn: str | None = None
    replica_key_arns: dict[str, str] = {}
    installed_regions: list[str] = []
    supported_regions: list[str] = []
    stack_version: int | None = None
    replica_management: str | None = Field(
        default=None, description="Who creates the replicas: service or tenant (as the "
        "tenant's stack reported it).")
    available_version: int | None = None
    deployment_url: str | None = None
    template_url: str | None = None
    token: str | None = Field(default=None, description="Always null: shown only at creation.")
    progress: list[dict[str, Any]] = []
    workflow_id: str | None = None
    token_expires_at: str | None = None
    upgrade_available: bool | None = None
    upgrade: str | None = Field(default=None, description="What an available upgrade brings.")
    health: HealthOut | None = Field(default=None, description="Key health, as GET /health.")


class AuditEventOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    count: int
    first_bad_seq: int | None = None
    problem: str | None = None


class CallbackOut(BaseModel):
    tenant_id: str
    accepted: bool
    replayed: bool


class MigrationIssuedOut(EnableIssuedOut):
    """The one-time upgrade bundle: `deployment_url` opens the stack's update in the console."""

    migrated: bool = Field(description="true: a migration started (it waits for the stack).")


class MigrationNoopOut(BaseModel):
    tenant_id: str
    migrated: bool = Field(description="false: already on the current template.")
    message: str
