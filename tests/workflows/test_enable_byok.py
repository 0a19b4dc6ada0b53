"""EnableByokWorkflow end to end: real workflow, real activities, localaws."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import audit
from byok.db import session_scope
from byok.models import AuditEvent, KeyBinding, Wallet
from control.enablement import deliver_callback
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS
from workflows.enable_byok import EnableByokWorkflow


async def test_connect_enable_deploy_enabled_with_replicas(
        temporal_env: Any, engine: Engine, tenant: str, enable: Any, deploy: Any,
        localaws: Any) -> None:
    issued = await enable(tenant)
    assert len(issued.token) == 36
    payload = await deploy(issued)
    answer = await deliver_callback(engine, lazy(temporal_env.client), payload)
    assert answer == {"tenant_id": tenant, "accepted": True, "replayed": False}
    view = await temporal_env.client.get_workflow_handle_for(
        EnableByokWorkflow.run, issued.workflow_id).result()

    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert sorted(view.replica_key_arns) == ["eu-west-1", "us-west-2"]
    assert view.installed_regions == REGIONS[:1] + sorted(REGIONS[1:])
    assert view.key_errors == {}
    key_id = view.key_arn.rsplit("/", 1)[1]
    assert key_id.startswith("mrk-")
    for region, arn in view.replica_key_arns.items():
        assert arn == f"arn:aws:kms:{region}:444455556666:key/{key_id}"

    with session_scope(engine) as session:
        wallet = session.get(Wallet, tenant)
        assert wallet is not None and wallet.state == "Enabled"
        binding = session.exec(select(KeyBinding).where(KeyBinding.tenant_id == tenant)).one()
        assert binding.key_arn == view.key_arn and binding.account_id == "444455556666"
        assert binding.replica_key_arns == view.replica_key_arns
        assert audit.verify(session, tenant).ok
        actions_seen = Counter(e.action for e in session.exec(
            select(AuditEvent).where(AuditEvent.tenant_id == tenant)))
    for action in ("wallet.token_issued", "wallet.callback_received", "wallet.verifying_role",
                   "wallet.verifying_key", "wallet.replicating", "wallet.binding_frozen",
                   "wallet.enabled"):
        assert actions_seen[action] == 1, (action, actions_seen)
