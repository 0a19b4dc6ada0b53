"""Small backups per second end to end through BackupWorkflow on the embedded stack."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path

from temporalio.client import Client

from bench.stack import REGION, TENANT_ACCOUNT, act_as_service, embedded_stack
from byok import connections, crud
from byok.backups import new_id
from byok.db import session_scope
from byok.messages import BackupInput
from byok.settings import Settings
from workflows.backup import BackupWorkflow


async def backups(client: Client, settings: Settings, tenant: str, src: Path, n: int,
                  concurrency: int) -> float:
    """Seconds for n backups through BackupWorkflow, at most `concurrency` in flight.

    Started as control.backups.start_backup starts them, minus its synchronous request check
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
    async with embedded_stack("bench-e2e", db_file) as stack:
        with session_scope(stack.engine) as session:
            t = crud.create_tenant(session, name=f"bench-{secrets.token_hex(3)}")
            connections.request(session, stack.settings, tenant=t, account_id=TENANT_ACCOUNT,
                                regions=[REGION], actor="bench")
            tenant = t.id
        src = stack.work / "src"
        src.write_bytes(os.urandom(size))
        rows = []
        # Warm-up: imports, first KMS key, first DB connections.
        await backups(stack.client, stack.settings, tenant, src, 20, concurrency)
        for n in sizes:
            rows.append((n, await backups(stack.client, stack.settings, tenant, src, n,
                                          concurrency)))
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
    act_as_service()
    asyncio.run(main_async(args.n, args.size, args.concurrency, not args.memory))


if __name__ == "__main__":
    main()
