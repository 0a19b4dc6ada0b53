"""Legacy (template v1, single-region) BYOK tenants as they exist in the field, recreated on
the embedded stack: where every upgrading tenant starts."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from byok import audit, cfn, connections, crud, enablement
from byok.db import session_scope
from byok.models import KeyBinding, Wallet, utcnow
from byok.settings import Settings
from starter.customer import deploy_stack


@dataclass
class LegacyTenant:
    tenant_id: str
    account_id: str
    key_arn: str
    role_arn: str


def _answered_v1(settings: Settings) -> str:
    """The v1 template without its Notify resource: in the field that request was answered
    long ago by the service before this one; an upgrade to v2 adds Notify and reports to us."""
    doc = cfn.parse_template(cfn.render_template(cfn.LEGACY_TEMPLATE_VERSION,
                                                 settings.service_role_arn,
                                                 settings.callback_topic_arn))
    doc["Resources"].pop("Notify")
    return json.dumps(doc)


def create_legacy_tenant(settings: Settings, engine: Engine, *, name: str, account_id: str,
                         regions: list[str]) -> LegacyTenant:
    """A tenant whose v1 stack is deployed and whose v1 binding is frozen (stack_version 1)."""
    with session_scope(engine) as session:
        tenant = crud.create_tenant(session, name=name, actor="legacy-import")
        # Pending is enough here: enablement proves the account with its own stack.
        connections.request(session, settings, tenant=tenant, account_id=account_id,
                            regions=regions, actor="legacy-import")
        external_id = enablement.new_external_id(session)
    region = settings.control_plane_region
    payload = deploy_stack(settings, account_id=account_id, token=enablement.new_token(),
                           external_id=external_id, version=cfn.LEGACY_TEMPLATE_VERSION,
                           stack_name=cfn.stack_name_for(tenant.id),
                           template_body=_answered_v1(settings))
    key_arn = settings.key_arn(region, account_id, payload["multi_region_cmk_key_id"])
    with session_scope(engine) as session:
        session.add(KeyBinding(
            tenant_id=tenant.id, generation=1, account_id=account_id,
            role_arn=payload["role_arn"], external_id=external_id, key_arn=key_arn,
            primary_region=region, multi_region=False, replica_key_arns={},
            template_version=cfn.LEGACY_TEMPLATE_VERSION))
        session.add(Wallet(tenant_id=tenant.id, state="Enabled", account_native_id=account_id,
                           role_arn=payload["role_arn"], external_id=external_id,
                           key_arn=key_arn, installed_regions=[region],
                           stack_version=cfn.LEGACY_TEMPLATE_VERSION, updated_at=utcnow()))
        audit.append(session, tenant_id=tenant.id, actor="legacy-import",
                     action="wallet.legacy_enabled",
                     details={"account_id": account_id, "key_arn": key_arn,
                              "role_arn": payload["role_arn"], "template_version": 1})
    return LegacyTenant(tenant.id, account_id, key_arn, payload["role_arn"])
