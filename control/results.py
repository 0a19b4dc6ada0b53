"""What the use cases answer where the answer has a fixed shape (the JSON API's too)."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class BackupRequest(TypedDict):
    """A backup as asked for; `as_tenant`: asked by the tenant (the web app), not the
    operator (the CLI)."""

    tenant: str
    workload: str
    source: str
    region: str | None
    actor: str
    backup_id: NotRequired[str | None]
    as_tenant: NotRequired[bool]


class RestoreRequest(TypedDict):
    tenant: str
    backup_id: str
    target: str | None
    force: bool
    actor: str
    as_tenant: NotRequired[bool]


class BackupStarted(TypedDict):
    backup_id: str
    workflow_id: str


class RestoreStarted(TypedDict):
    restore_id: str
    workflow_id: str
    backup_id: str
    target: str


class RestoreDone(TypedDict):
    restore_id: str
    backup_id: str
    target: str
    bytes: int
    ok: bool


class CallbackAccepted(TypedDict):
    tenant_id: str
    accepted: bool
    replayed: bool


class CheckOutcome(TypedDict):
    """How an on-demand key-health check went; `error` when it did not complete."""

    checked: bool
    error: str | None
    alert_id: str | None
