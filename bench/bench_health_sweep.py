"""Key-health sweep over N tenants (three regions each) on the embedded stack: tenants/s."""

from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from temporalio.client import Client

from bench.stack import act_as_service, embedded_stack
from byok.health_messages import SweepInput, SweepResult
from byok.settings import Settings
from starter.health_seed import REGIONS, seed_tenant
from workflows.health_sweep import HealthSweepWorkflow


def seed(engine: Engine, settings: Settings, first: int, last: int) -> float:
    """Tenants first..last-1 straight into localaws and the database (not via enablement)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: seed_tenant(engine, settings, n), range(first, last)))
    return time.perf_counter() - start


async def sweep(client: Client, settings: Settings, name: str, concurrency: int,
                per_run: int) -> tuple[float, SweepResult]:
    start = time.perf_counter()
    result = await client.execute_workflow(
        HealthSweepWorkflow.run, SweepInput(concurrency=concurrency, page_size=500,
                                            tenants_per_run=per_run),
        id=f"bench-sweep-{name}", task_queue=settings.task_queue)
    return time.perf_counter() - start, result


async def main_async(sizes: list[int], concurrency: int, per_run: int, db_file: bool) -> None:
    rows = []
    async with embedded_stack("bench-health", db_file) as stack:
        seeded = 0
        for n in sizes:
            seed_secs = await asyncio.to_thread(seed, stack.engine, stack.settings, seeded, n)
            seeded = n
            secs, result = await sweep(stack.client, stack.settings, str(n), concurrency,
                                       per_run)
            assert result.checked + result.handed_off == n, result
            assert result.failed == 0 and result.changed == 0, result
            rows.append((n, seed_secs, secs))
    store = "SQLite file" if db_file else "in memory"
    print(f"Key-health sweep: HealthSweepWorkflow -> one KeyHealthWorkflow child per tenant "
          f"({len(REGIONS)} regions: AssumeRole + ExternalId probe + DescribeKey and a data-key "
          f"round trip per region), {concurrency} in flight, continue-as-new every {per_run}; "
          f"Temporal dev server ({store}), localaws in process, SQLite, one worker\n")
    print("| tenants | seed s | sweep s | tenants/s | time vs first |")
    print("|--------:|-------:|--------:|----------:|--------------:|")
    for n, seed_secs, secs in rows:
        print(f"| {n:>7,} | {seed_secs:>6.1f} | {secs:>7.1f} | {n / secs:>9.1f} | "
              f"{secs / rows[0][2]:>12.2f}x |")
    if len(rows) >= 2:
        (n1, _, t1), (n2, _, t2) = rows[0], rows[-1]
        print(f"\n{n2:,} vs {n1:,} tenants: {n2 / n1:.1f}x the work took {t2 / t1:.2f}x the "
              f"time (target: at most 2.2x for 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 2000],
                        help="tenant counts to sweep, each a superset (default: 1000 2000)")
    parser.add_argument("--concurrency", type=int, default=50, help="tenants in flight")
    parser.add_argument("--per-run", type=int, default=500,
                        help="tenants per sweep run before continue-as-new")
    parser.add_argument("--memory", action="store_true",
                        help="Temporal dev server in memory instead of a SQLite file")
    args = parser.parse_args()
    act_as_service()
    asyncio.run(main_async(args.n, args.concurrency, args.per_run, not args.memory))


if __name__ == "__main__":
    main()
