"""Small backups per second end to end through BackupWorkflow on the embedded stack."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.aws import AwsClients
from byok import crud
from byok.backups import new_id
from byok.db import make_engine, migrate, session_scope
from byok.messages import BackupInput
from byok.settings import Settings, load_settings
from starter.bootstrap import ensure_service_resources
from worker import build_worker
from workflows.backup import BackupWorkflow

ROOT = Path(__file__).resolve().parents[1]
SERVICE_ACCOUNT, TENANT_ACCOUNT, REGION = "111122223333", "444455556666", "us-east-1"


async def backups(client: Client, settings: Settings, tenant: str, src: Path, n: int,
                  concurrency: int) -> float:
    """Seconds for n backups through BackupWorkflow, at most `concurrency` in flight.

    Started as starter.actions.run_backup starts them, minus its synchronous request check
    (plan_backup repeats it): here the starter shares the worker's event loop, and blocking
    database calls in it would measure this process's layout rather than the backup path.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            inp = BackupInput(tenant, new_id("bk"), "m365", f"file://{src}", REGION, "bench")
            result = await client.execute_workflow(
                BackupWorkflow.run, inp, id=f"backup-{inp.backup_id}",
                task_queue=settings.task_queue)
            assert result.ok

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - start


async def main_async(sizes: list[int], size: int, concurrency: int, db_file: bool) -> None:
    # The editable install does not map localaws (it is dev-only): import it from the checkout.
    sys.path.insert(0, str(ROOT))
    from localaws import LocalAws

    with tempfile.TemporaryDirectory() as tmp, LocalAws() as local:
        work = Path(tmp)
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=str(ROOT / ".venv" / "bin" / "temporal"),
            dev_server_database_filename=str(work / "temporal.db") if db_file else None,
            search_attributes=[SearchAttributeKey.for_keyword("TenantId"),
                               SearchAttributeKey.for_keyword("WalletState")])
        try:
            settings = load_settings(home=work / "home", aws_endpoint_url=local.url,
                                     database_url="", task_queue="bench-e2e")
            engine = make_engine(settings.db_url)
            migrate(engine)
            aws = AwsClients(settings)
            ensure_service_resources(aws, settings)
            with session_scope(engine) as session:
                t = crud.create_tenant(session, name=f"bench-{secrets.token_hex(3)}")
                crud.connect_account(session, tenant=t, account_id=TENANT_ACCOUNT,
                                     regions=[REGION])
                tenant = t.id
            src = work / "src"
            src.write_bytes(os.urandom(size))
            rows = []
            with ThreadPoolExecutor(max_workers=64) as executor:
                async with build_worker(env.client, settings, engine, aws, executor):
                    # Warm-up: imports, first KMS key, first DB connections.
                    await backups(env.client, settings, tenant, src, 20, concurrency)
                    for n in sizes:
                        secs = await backups(env.client, settings, tenant, src, n,
                                             concurrency)
                        rows.append((n, secs))
        finally:
            await env.shutdown()
    store = "SQLite file" if db_file else "in memory"
    print(f"End to end: BackupWorkflow (plan, stream+encrypt, catalog) of {size} B each, "
          f"{concurrency} in flight, one worker; Temporal dev server ({store}), localaws, "
          f"SQLite catalog, file vault\n")
    print("| backups | seconds | backups/s | time vs first |")
    print("|--------:|--------:|----------:|--------------:|")
    for n, secs in rows:
        print(f"| {n:>7,} | {secs:>7.1f} | {n / secs:>9.1f} | {secs / rows[0][1]:>12.2f}x |")
    if len(rows) >= 2:
        (n1, t1), (n2, t2) = rows[0], rows[-1]
        print(f"\n{n2:,} vs {n1:,} backups: {n2 / n1:.1f}x the work took {t2 / t1:.2f}x the "
              "time (linear = the same ratio)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 2000],
                        help="backup counts to time (default: 1000 2000)")
    parser.add_argument("--size", type=int, default=1024, help="bytes per backup")
    parser.add_argument("--concurrency", type=int, default=16, help="backups in flight")
    parser.add_argument("--memory", action="store_true",
                        help="Temporal dev server in memory instead of a SQLite file")
    args = parser.parse_args()
    # Act as the service's account on localaws, never as a real AWS user.
    os.environ.update(AWS_ACCESS_KEY_ID=SERVICE_ACCOUNT, AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION=REGION)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    asyncio.run(main_async(args.n, args.size, args.concurrency, not args.memory))


if __name__ == "__main__":
    main()
