"""Workflow fixtures: a real worker with the real activity classes against localaws."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from byok import crud
from byok.db import session_scope
from byok.settings import Settings
from control.enablement import start_enable
from starter.customer import deploy_stack
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import prove_connection, request_connection
from tests.lazy import lazy

REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


@pytest.fixture
def tenant(engine: Engine) -> str:
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=TENANT_ACCOUNT, regions=REGIONS)
        return t.id


@pytest.fixture
async def proven(engine: Engine, settings: Settings, aws: Any, tenant: str) -> dict[str, Any]:
    """The tenant's connection proven by its connection stack (s3/dynamodb/ebs sources)."""
    return await prove_connection(engine, settings, aws, tenant_id=tenant,
                                  account_id=TENANT_ACCOUNT, regions=REGIONS)


@pytest.fixture
def enable(temporal_env: Any, engine: Engine, settings: Settings,
           worker: Any) -> Callable[..., Any]:
    """Start an enablement the way the CLI does; returns the Issued token bundle."""

    async def start(tenant_id: str, account: str = TENANT_ACCOUNT) -> Any:
        return await start_enable(engine, settings, lazy(temporal_env.client), tenant=tenant_id,
                                  account=account, accept_irretrievable=True,
                                  accept_immutable=True, actor="test")
    return start


@pytest.fixture
def deploy(settings: Settings) -> Callable[..., Any]:
    """The tenant deploys our stack on localaws (in a thread: the worker shares this loop).
    By default it returns at once with what the stack reports, for tests that deliver the
    report themselves; wait=True (with the consumer running) is the real path."""

    async def run(issued: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("account_id", issued.account_id)
        kwargs.setdefault("external_id", issued.external_id)
        kwargs.setdefault("wait", False)
        return await asyncio.to_thread(deploy_stack, settings, token=issued.token, **kwargs)
    return run


@pytest.fixture
async def consumer(temporal_env: Any, engine: Engine, settings: Settings, aws: Any,
                   worker: Any) -> AsyncIterator[Any]:
    """The stack-callback consumer long-polling the queue, as `byok consumer` runs it."""
    from tests.workflows.enable_helpers import consuming

    async with consuming(temporal_env.client, engine, settings, aws) as running:
        yield running


@pytest.fixture
def enabled(temporal_env: Any, engine: Engine, enable: Any, deploy: Any,
            consumer: Any) -> Callable[..., Any]:
    """Take a tenant through the real enablement to Enabled (the stack reports through SNS,
    SQS and the consumer; we answer it); returns the wallet view."""
    from workflows.enable_byok import EnableByokWorkflow

    async def run(tenant_id: str) -> Any:
        issued = await enable(tenant_id)
        await deploy(issued, wait=True)
        view = await temporal_env.client.get_workflow_handle_for(
            EnableByokWorkflow.run, issued.workflow_id).result()
        assert view.state == "Enabled", (view.error_code, view.error_message)
        return view
    return run
