"""Connections in tests. A pending one (requested, not proven) serves what reads nothing from
the account (file backups, enablement, which proves the account itself); a verified one
only ever comes from the real proof: the connection stack deployed on localaws, its report
through SNS and SQS to the consumer, the role assumed with the ExternalId and refused
without it, and our answer completing the stack."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from byok import connections, crud
from byok.db import session_scope
from byok.models import AwsConnection, Tenant
from byok.settings import Settings, load_settings


def request_connection(session: Session, *, tenant: Tenant, account_id: str,
                       regions: list[str], actor: str = "test",
                       settings: Settings | None = None) -> AwsConnection:
    """A pending connection (what a tenant's request creates)."""
    return connections.request(session, settings or load_settings(), tenant=tenant,
                               account_id=account_id, regions=regions, actor=actor).connection


async def prove_connection(engine: Engine, settings: Settings, aws: Any, *, tenant_id: str,
                           account_id: str, regions: list[str], stack_name: str = "",
                           deploy_account: str = "", template_body: str = "") -> dict[str, Any]:
    """Request the connection and prove it the way AWS runs it; returns its public view.
    deploy_account: where the tenant really deploys the stack (an attack: not the account
    asked for); template_body: the tenant's own edit of our template."""
    from control import connections as control_connections
    from control.consumer import CallbackConsumer
    from starter.customer import deploy_connection_stack

    issued = control_connections.connect_account(engine, settings, tenant=tenant_id,
                                                 account_id=account_id, regions=regions,
                                                 actor="test")
    # The consumer needs no Temporal for connection requests.
    consumer = CallbackConsumer(None, engine, settings, aws.service("sqs"),  # type: ignore[arg-type]
                                aws)
    deploy = asyncio.create_task(asyncio.to_thread(
        deploy_connection_stack, settings, account_id=deploy_account or account_id,
        token=issued["token"], template_body=template_body,
        external_id=issued["external_id"], role_name=issued["role_name"],
        stack_name=stack_name or f"byok-vault-connect-{tenant_id}"))
    while not deploy.done():
        await consumer.poll_once(wait_seconds=1)
    await deploy  # raises when the stack failed (our FAILED answer rolled it back)
    with session_scope(engine) as session:
        row = next(c for c in crud.connections(session, tenant_id=tenant_id)
                   if c.account_id == account_id)
        return connections.public(row, settings)
