"""The tenant's wallet: BYOK state, key, replicas, errors, and its key health."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from byok import cfn, crud, enablement, health_alerts
from byok.db import session_scope
from byok.models import Wallet
from byok.settings import Settings
from control.keyhealth import with_health

UPGRADE_NOTE = (
    "An upgrade of your byok-vault stack (template v{old} -> v2) is available: a multi-region "
    "key replicated to every connected region (backups and restores in every region use your "
    "key) and a least-privilege role. Backups taken so far stay under your current key, which "
    "stays in your keyring and under health checks. Run `byok migrate` or use the console.")


def wallet_status(engine: Engine, settings: Settings, tenant: str) -> dict[str, Any]:
    """The wallet as DESIGN.md names its fields (the token itself is never shown again)."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        wallet = session.get(Wallet, t.id)
        bound = enablement.binding(session, t.id)
        regions: list[str] = []
        for conn in crud.connections(session, tenant_id=t.id):
            regions.extend(r for r in conn.regions if r not in regions)
        health = health_alerts.view(session, t.id)  # key health per region, findings, radius
    out: dict[str, Any] = {
        "tenant_id": t.id, "tenant_name": t.name, "state": "NotConfigured",
        "error_code": None, "error_message": None, "key_errors": {},
        "account_native_id": None, "role_arn": None, "key_arn": None, "replica_key_arns": {},
        "installed_regions": [], "supported_regions": regions, "stack_version": None,
        "available_version": cfn.CURRENT_TEMPLATE_VERSION, "deployment_url": None,
        "template_url": enablement.template_url(settings), "token": None, "progress": [],
        "workflow_id": None, "temporal_ui_url": None, "health": health,
        "replica_management": None,
    }
    if wallet:
        out.update(state=wallet.state, error_code=wallet.error_code,
                   error_message=wallet.error_message, key_errors=wallet.key_errors,
                   account_native_id=wallet.account_native_id, role_arn=wallet.role_arn,
                   key_arn=wallet.key_arn, replica_key_arns=wallet.replica_key_arns,
                   installed_regions=wallet.installed_regions,
                   stack_version=wallet.stack_version, progress=wallet.progress,
                   replica_management=wallet.replica_management,
                   workflow_id=wallet.workflow_id,
                   token_expires_at=wallet.token_expires_at.isoformat()
                   if wallet.token_expires_at else None)
        if wallet.workflow_id:
            out["temporal_ui_url"] = (f"{settings.temporal_ui_url}/namespaces/"
                                      f"{settings.temporal_namespace}/workflows/"
                                      f"{wallet.workflow_id}")
        if wallet.state == "Waiting":
            out["deployment_url"] = cfn.quick_create_url(
                region=settings.control_plane_region, template_url=out["template_url"],
                stack_name=cfn.stack_name_for(t.id),
                parameters={"ExternalId": wallet.external_id or ""})
    if bound:
        out["upgrade_available"] = bound.template_version < cfn.CURRENT_TEMPLATE_VERSION
        if out["upgrade_available"]:
            out["upgrade"] = UPGRADE_NOTE.format(old=bound.template_version)
    return out


def wallet_view(engine: Engine, settings: Settings, tenant: str) -> dict[str, Any]:
    """The wallet with the full health view (every key generation and region, labelled)."""
    return with_health(engine, wallet_status(engine, settings, tenant))

