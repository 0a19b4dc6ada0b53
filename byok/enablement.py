"""Enablement rules with no Temporal: preconditions, token issue, callback acceptance."""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from byok import audit, cfn, crud, template_store
from byok.errors import Conflict, InvalidInput, Unauthorized
from byok.messages import StackCallback
from byok.models import AwsConnection, EnableToken, KeyBinding, Tenant, Wallet, utcnow
from byok.settings import Settings

TOKEN_ALPHABET = string.ascii_letters + string.digits


def workflow_id_for(tenant_id: str) -> str:
    return f"enable-byok-{tenant_id}"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(cfn.TOKEN_LENGTH))


@dataclass
class Issued:
    """What the tenant needs to deploy the stack; the token is shown here and never again."""

    tenant_id: str
    account_id: str
    token: str
    external_id: str
    expires_at: datetime
    workflow_id: str
    template_url: str
    deployment_url: str
    service_account_id: str
    stack_name: str

    def public(self) -> dict[str, str]:
        return {
            "tenant_id": self.tenant_id, "account_native_id": self.account_id,
            "token": self.token, "external_id": self.external_id,
            "expires_at": self.expires_at.isoformat(), "workflow_id": self.workflow_id,
            "template_url": self.template_url, "deployment_url": self.deployment_url,
            "service_account_id": self.service_account_id, "stack_name": self.stack_name,
        }


def template_url(settings: Settings, version: int = cfn.CURRENT_TEMPLATE_VERSION) -> str:
    """The published S3 URL (CloudFormation takes no other); the web app's
    /api/v1/templates route serves a copy for reading only."""
    return template_store.url(settings, version)


def binding(session: Session, tenant_id: str) -> KeyBinding | None:
    """The current (newest) frozen key generation, if any."""
    return session.exec(select(KeyBinding).where(KeyBinding.tenant_id == tenant_id)
                        .order_by(KeyBinding.generation.desc())).first()  # type: ignore[attr-defined]


def check_preconditions(session: Session, settings: Settings, tenant: Tenant, account_id: str,
                        accept_irretrievable: bool, accept_immutable: bool) -> list[str]:
    """Everything refused before anything is issued; returns the connected regions."""
    account_id = crud.validate_account_id(account_id)
    if not accept_irretrievable:
        raise InvalidInput("you must acknowledge that deleting the CMK or the AWS account makes "
                           "the backups permanently irretrievable", field="accept_irretrievable")
    if not accept_immutable:
        raise InvalidInput("you must acknowledge that once enabled, the CMK and the AWS account "
                           "can never be changed", field="accept_immutable")
    if binding(session, tenant.id) is not None:
        raise Conflict("BYOK is already enabled for this tenant; the key and account can never "
                       "be changed", code="ALREADY_ENABLED")
    conns = crud.connections(session, tenant_id=tenant.id)
    if not conns:
        raise InvalidInput("connect at least one AWS account and region before enabling BYOK",
                           field="account")
    regions = crud.connected_regions(session, tenant_id=tenant.id, account_id=account_id)
    if not regions:
        connected = ", ".join(c.account_id for c in conns)
        raise InvalidInput(f"account {account_id} is not connected to this tenant "
                           f"(connected: {connected})", field="account")
    if settings.control_plane_region not in regions:
        raise InvalidInput(f"the control-plane region {settings.control_plane_region} must be one "
                           f"of the account's connected regions ({', '.join(regions)})",
                           field="account")
    wallet = session.get(Wallet, tenant.id)
    if wallet and wallet.state == "Waiting" and wallet.token_expires_at \
            and wallet.token_expires_at > utcnow():
        raise Conflict("an enablement is already waiting for its stack; finish it or wait for "
                       f"its token to expire at {wallet.token_expires_at:%Y-%m-%d %H:%M} UTC",
                       code="ENABLE_IN_PROGRESS")
    return regions


def new_external_id(session: Session) -> str:
    while True:
        candidate = "byok-" + secrets.token_urlsafe(24).replace("_", "A")
        if not external_id_taken(session, candidate, tenant_id=None):
            return candidate


def external_id_taken(session: Session, external_id: str, tenant_id: str | None) -> bool:
    """True when a tenant other than `tenant_id` already uses this ExternalId."""
    owners: list[str] = []
    for model in (EnableToken, KeyBinding, Wallet, AwsConnection):
        owners += session.exec(select(model.tenant_id)
                               .where(model.external_id == external_id)).all()
    return any(owner != tenant_id for owner in owners)


def issue(session: Session, settings: Settings, tenant: Tenant, account_id: str, *,
          accept_irretrievable: bool, accept_immutable: bool, actor: str) -> Issued:
    """Check preconditions, then issue a token and ExternalId and put the wallet in Waiting."""
    issued = prepare(session, settings, tenant, account_id,
                     accept_irretrievable=accept_irretrievable,
                     accept_immutable=accept_immutable)
    record(session, issued, actor)
    return issued


def prepare(session: Session, settings: Settings, tenant: Tenant, account_id: str, *,
            accept_irretrievable: bool, accept_immutable: bool) -> Issued:
    """Check preconditions and make the token, ExternalId and links; writes nothing (the
    caller records them once the workflow that waits for them has started)."""
    check_preconditions(session, settings, tenant, account_id, accept_irretrievable,
                        accept_immutable)
    token, external_id = new_token(), new_external_id(session)
    expires = utcnow() + timedelta(days=settings.token_ttl_days)
    stack = cfn.stack_name_for(tenant.id)
    url = template_url(settings)
    deploy = cfn.quick_create_url(region=settings.control_plane_region, template_url=url,
                                  stack_name=stack, parameters={
                                      "ExternalId": external_id, "VaultToken": token})
    return Issued(tenant.id, account_id, token, external_id, expires, workflow_id_for(tenant.id),
                  url, deploy, settings.service_account_id, stack)


def record(session: Session, issued: Issued, actor: str) -> None:
    """Store a prepared token (voiding earlier unused ones) and put the wallet in Waiting."""
    tenant_id, account_id, external_id = issued.tenant_id, issued.account_id, issued.external_id
    expires, wf_id = issued.expires_at, issued.workflow_id
    for old in session.exec(select(EnableToken).where(EnableToken.tenant_id == tenant_id,
                                                      EnableToken.used_at == None)):  # noqa: E711
        old.voided_at = old.voided_at or utcnow()
        session.add(old)
    session.add(EnableToken(token_hash=hash_secret(issued.token), tenant_id=tenant_id,
                            account_id=account_id, external_id=external_id,
                            workflow_id=wf_id, expires_at=expires))
    wallet = session.get(Wallet, tenant_id) or Wallet(tenant_id=tenant_id)
    wallet.state, wallet.error_code, wallet.error_message = "Waiting", None, None
    wallet.account_native_id, wallet.external_id = account_id, external_id
    wallet.role_arn = wallet.key_arn = None
    wallet.replica_key_arns, wallet.installed_regions, wallet.key_errors = {}, [], {}
    wallet.replica_management = None
    wallet.progress = [{"step": "waiting_for_stack", "at": utcnow().isoformat()}]
    wallet.token_expires_at, wallet.workflow_id, wallet.updated_at = expires, wf_id, utcnow()
    session.add(wallet)
    session.flush()
    audit.append(session, tenant_id=tenant_id, actor=actor, action="wallet.token_issued",
                 details={"account_id": account_id, "expires_at": expires.isoformat()})


def void_token(session: Session, tenant_id: str) -> None:
    for tok in session.exec(select(EnableToken).where(EnableToken.tenant_id == tenant_id,
                                                      EnableToken.voided_at == None)):  # noqa: E711
        tok.voided_at = utcnow()
        session.add(tok)


def accept_callback(session: Session,
                    payload: dict[str, Any]) -> tuple[EnableToken, StackCallback, bool]:
    """Authenticate a stack callback by its token; returns (token row, callback, replayed)."""
    token = str(payload.get("token") or "")
    if len(token) != cfn.TOKEN_LENGTH:
        raise Unauthorized("the callback's token is missing or malformed", field="token")
    row = session.get(EnableToken, hash_secret(token))
    if row is None:
        raise Unauthorized("unknown token", field="token")
    fingerprint = hash_secret(json.dumps(payload, sort_keys=True, default=str))
    if row.used_at is not None:
        if row.callback_fingerprint == fingerprint:
            return row, _callback_from(payload), True
        raise Unauthorized("this token was already used", field="token")
    if row.voided_at is not None:
        raise Unauthorized("this token was voided; start a new enablement", field="token")
    if row.expires_at <= utcnow():
        raise Unauthorized(f"this token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC",
                           field="token")
    account = str(payload.get("account_native_id") or "")
    if account != row.account_id:
        raise Unauthorized(f"the stack reports account {account or '(none)'}, but the token was "
                           f"issued for account {row.account_id}", field="account_native_id")
    callback = _callback_from(payload)
    reported = str(payload.get("role_external_id") or row.external_id)
    changed = reported != row.external_id
    if changed:
        try:
            cfn.validate_external_id(reported)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="role_external_id") from None
        if external_id_taken(session, reported, row.tenant_id):
            raise Conflict("that ExternalId is already used by another tenant; choose another",
                           field="role_external_id")
        row.external_id = reported
        wallet = session.get(Wallet, row.tenant_id)
        if wallet:
            wallet.external_id = reported
            session.add(wallet)
    row.used_at, row.callback_fingerprint = utcnow(), fingerprint
    session.add(row)
    audit.append(session, tenant_id=row.tenant_id, actor="stack", action="wallet.callback_received",
                 details={"request_type": callback.request_type, "account_id": account,
                          "region": callback.aws_region, "role_arn": callback.role_arn,
                          "key_id": callback.multi_region_cmk_key_id,
                          "template_version": callback.template_version,
                          "replica_management": callback.replica_management,
                          "external_id_changed": changed})
    return row, callback, False


def _callback_from(payload: dict[str, Any]) -> StackCallback:
    def text(name: str, required: bool = True) -> str:
        value = payload.get(name)
        if value is None or (required and not str(value).strip()):
            raise InvalidInput(f"the callback is missing {name}", field=name)
        return str(value)

    request_type = text("request_type")
    if request_type not in ("Create", "Update", "Delete"):
        raise InvalidInput("request_type must be Create, Update or Delete", field="request_type")
    try:
        version = int(text("template_version"))
    except ValueError:
        raise InvalidInput("template_version must be a number", field="template_version") from None
    created = str(payload.get("created_multi_region_cmk", "false")).lower() in ("true", "1")
    # Absent from version 1 stacks and from stacks made before the choice existed: "service".
    replicas = str(payload.get("replica_management") or "service")
    if replicas not in cfn.REPLICA_MANAGEMENT:
        raise InvalidInput("replica_management must be service or tenant",
                           field="replica_management")
    return StackCallback(request_type=request_type, account_native_id=text("account_native_id"),
                         aws_region=text("aws_region"), role_arn=text("role_arn"),
                         role_id=text("role_id", required=False),
                         multi_region_cmk_key_id=text("multi_region_cmk_key_id"),
                         created_multi_region_cmk=created, template_version=version,
                         replica_management=replicas)


def external_id_for(session: Session, tenant_id: str) -> str:
    """The ExternalId to assume the tenant's role with (pending enablement, else the binding)."""
    wallet = session.get(Wallet, tenant_id)
    if wallet and wallet.external_id:
        return wallet.external_id
    bound = binding(session, tenant_id)
    if bound:
        return bound.external_id
    raise InvalidInput(f"no ExternalId on record for tenant {tenant_id}", field="tenant")
