"""Fixtures of the worker-process tests: the real dev server and worker subprocesses."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from byok.codec import data_converter
from byok.settings import Settings
from starter import up
from tests.conftest import VENV_BIN
from tests.runtime.workers import WorkerProc


@pytest.fixture
async def dev_server(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    # The same codec as the worker: every payload crosses the server encrypted.
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings.payload_keys),
        dev_server_existing_path=str(VENV_BIN / "temporal"),
        search_attributes=[SearchAttributeKey.for_keyword("TenantId"),
                           SearchAttributeKey.for_keyword("WalletState")])
    yield env
    await env.shutdown()


@pytest.fixture
def spawn(settings: Settings, dev_server: WorkflowEnvironment) -> Iterator[Any]:
    env = up.child_env(settings, os.environ)
    env.update(BYOK_TEMPORAL_ADDRESS=dev_server.client.service_client.config.target_host,
               BYOK_AWS_ENDPOINT_URL=settings.aws_endpoint_url)
    procs: list[WorkerProc] = []

    def start(grace: str = "0", **extra: str) -> WorkerProc:
        procs.append(WorkerProc({**env, "BYOK_WORKER_SHUTDOWN_SECONDS": grace, **extra}))
        procs[-1].wait_ready()
        return procs[-1]
    yield start
    for p in procs:
        p.kill()


