"""Migration rules with no Temporal: from the legacy template to the current one."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from byok import audit, cfn, enablement
from byok.errors import Conflict, InvalidInput
from byok.models import EnableToken, Tenant, Wallet, utcnow
from byok.settings import Settings


def workflow_id_for(tenant_id: str) -> str:
    return f"migrate-byok-{tenant_id}"


def issue_upgrade(session: Session, settings: Settings, tenant: Tenant,
                  actor: str) -> enablement.Issued | None:
    """An upgrade token for the tenant's stack, or None when there is nothing to migrate."""
    bound = enablement.binding(session, tenant.id)
    if bound is None:
        raise InvalidInput("BYOK is not enabled for this tenant; enable it instead",
                           field="tenant")
    if bound.template_version >= cfn.CURRENT_TEMPLATE_VERSION:
        return None
    wf_id = workflow_id_for(tenant.id)
    pending = session.exec(select(EnableToken).where(
        EnableToken.tenant_id == tenant.id, EnableToken.purpose == "upgrade",
        EnableToken.used_at == None, EnableToken.voided_at == None,  # noqa: E711
        EnableToken.expires_at > utcnow())).first()
    if pending is not None:
        raise Conflict("a migration is already waiting for the stack update; finish it or "
                       f"wait for its token to expire at {pending.expires_at:%Y-%m-%d %H:%M} "
                       "UTC", code="MIGRATION_IN_PROGRESS")
    token = enablement.new_token()
    expires = utcnow() + timedelta(days=settings.token_ttl_days)
    # The role keeps its ExternalId: the update changes the policy and adds the new key.
    session.add(EnableToken(token_hash=enablement.hash_secret(token), tenant_id=tenant.id,
                            account_id=bound.account_id, external_id=bound.external_id,
                            purpose="upgrade", workflow_id=wf_id, expires_at=expires))
    wallet = session.get(Wallet, tenant.id)
    if wallet is not None:
        wallet.external_id = bound.external_id
        wallet.error_code = wallet.error_message = None
        wallet.progress = [*wallet.progress, {"step": "migration:token_issued",
                                              "at": utcnow().isoformat()}]
        session.add(wallet)
    audit.append(session, tenant_id=tenant.id, actor=actor, action="migration.token_issued",
                 details={"from_version": bound.template_version,
                          "to_version": cfn.CURRENT_TEMPLATE_VERSION,
                          "expires_at": expires.isoformat()})
    url = enablement.template_url(settings)
    stack = cfn.stack_name_for(tenant.id)
    update = cfn.update_stack_url(region=settings.control_plane_region, stack_id=stack,
                                  template_url=url)
    return enablement.Issued(tenant.id, bound.account_id, token, bound.external_id, expires,
                             wf_id, url, update, settings.service_account_id, stack)
