"""Key-health sweep over N tenants (three regions each) on the embedded stack: tenants/s, and
per tenant-region the AWS requests, Temporal actions and database writes it costs."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine

from bench.stack import ROOT, Stack, act_as_service, embedded_stack
from bench.temporal_actions import count_actions
from byok.health_messages import HealthCheckInput, SweepInput, SweepResult
from byok.settings import Settings
from starter.health_seed import REGIONS, seed_tenant
from workflows.health_sweep import BATCH_HEARTBEAT, HealthSweepWorkflow
from workflows.key_health import KeyHealthWorkflow


def seed(engine: Engine, settings: Settings, first: int, last: int, accounts: int) -> float:
    """Tenants first..last-1 straight into localaws and the database (not via enablement)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: seed_tenant(engine, settings, n, accounts=accounts),
                      range(first, last)))
    return time.perf_counter() - start


def aws_total(stack: Stack) -> int:
    return sum(sum(c.values()) for c in stack.aws.requests.values())


async def sweep(stack: Stack, name: str, inp: SweepInput) -> tuple[float, SweepResult, int,
                                                                   Counter[str]]:
    before = aws_total(stack)
    start = time.perf_counter()
    handle = await stack.client.start_workflow(HealthSweepWorkflow.run, inp,
                                               id=f"bench-sweep-{name}",
                                               task_queue=stack.settings.task_queue)
    result = await handle.result()
    secs = time.perf_counter() - start
    requests = aws_total(stack) - before
    actions = await count_actions(stack.client, handle.id, handle.first_execution_run_id or "")
    batches = math.ceil((result.checked + result.handed_off) / inp.batch_size)
    # Heartbeats leave no event; the SDK sends at most one per 0.8 x heartbeat timeout.
    per_batch = secs * inp.concurrency / max(batches, 1)
    actions["heartbeats (est.)"] = batches * max(
        1, math.ceil(per_batch / (0.8 * BATCH_HEARTBEAT.total_seconds())))
    return secs, result, requests, actions


async def per_tenant(stack: Stack, n: int, concurrency: int) -> tuple[float, int]:
    """The baseline: one KeyHealthWorkflow per tenant, as per-tenant Schedules run them."""
    before, sem = aws_total(stack), asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await stack.client.execute_workflow(
                KeyHealthWorkflow.run, HealthCheckInput(f"sweep-{i:06d}", "schedule"),
                id=f"bench-one-{i}", task_queue=stack.settings.task_queue)
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start, aws_total(stack) - before


def second_worker(stack: Stack) -> subprocess.Popen[bytes]:
    """One more worker process against the same stack, as `--scale worker=2` would add."""
    env = {**os.environ, "BYOK_HOME": str(stack.settings.home),
           "BYOK_AWS_ENDPOINT_URL": stack.settings.aws_endpoint_url,
           "BYOK_TASK_QUEUE": stack.settings.task_queue,
           "BYOK_TEMPORAL_ADDRESS": stack.client.service_client.config.target_host}
    proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.readline()  # "worker ready ..."
    return proc


def row(label: str, n: int, secs: float, base: float, result: SweepResult | None,
        requests: int, actions: Counter[str] | None) -> str:
    regions = n * len(REGIONS)
    acts = sum(actions.values()) / regions if actions else float("nan")
    writes = result.db_writes / regions if result else float("nan")
    return (f"| {label:<22} | {n:>6,} | {secs:>7.1f} | {n / secs:>9.1f} | "
            f"{(n / secs) / base:>7.2f}x | {requests / regions:>7.2f} | {acts:>8.3f} | "
            f"{writes:>7.2f} |")


async def main_async(sizes: list[int], inp: SweepInput, baseline: int, scale: bool,
                     db_file: bool, accounts: int) -> None:
    lines: list[str] = []
    totals: Counter[str] = Counter()
    times: list[tuple[int, float]] = []
    base: float | None = None
    async with embedded_stack("bench-health", db_file) as stack:
        seeded = 0
        for n in sizes:
            seed_secs = await asyncio.to_thread(seed, stack.engine, stack.settings, seeded, n,
                                                accounts)
            print(f"seeded {n:,} tenants ({seed_secs:.0f} s)", flush=True)
            seeded = n
            if n == sizes[0] and baseline:
                secs, requests = await per_tenant(stack, baseline, 50)
                base = baseline / secs
                lines.append(row("per-tenant workflows", baseline, secs, base, None, requests,
                                 None))
            secs, result, requests, actions = await sweep(stack, str(n), inp)
            assert result.checked + result.handed_off == n, result
            assert result.failed == 0 and result.changed == 0, result
            base = base or n / secs
            lines.append(row("sweep, 1 worker", n, secs, base, result, requests, actions))
            print(lines[-1], flush=True)
            totals = actions
            times.append((n, secs))
        if scale and base:
            proc = second_worker(stack)
            try:
                n = sizes[-1]
                secs2, result, requests, actions = await sweep(stack, f"{n}-2w", inp)
                lines.append(row("sweep, 2 workers", n, secs2, base, result, requests, actions))
                one = next(t for m, t in times if m == n)
                print(f"two workers: {one / secs2:.2f}x the one-worker rate for {n:,} tenants")
            finally:
                proc.terminate()
                proc.wait()
    store = "SQLite file" if db_file else "in memory"
    print(f"Key-health sweep: HealthSweepWorkflow -> batch activities of {inp.batch_size} "
          f"tenants ({len(REGIONS)} regions: AssumeRole + ExternalId probe, a data-key round "
          f"trip per region), {inp.concurrency} batches in flight, continue-as-new every "
          f"{inp.batches_per_run} batches; Temporal dev server ({store}), localaws in "
          f"process, SQLite; ratios against the per-tenant baseline of this run\n")
    print("| run                    | tenants | sweep s | tenants/s | vs base | AWS/t-r | "
          "actions/t-r | DB/t-r |")
    print("|:-----------------------|-------:|--------:|----------:|--------:|--------:|"
          "---------:|--------:|")
    for line in lines:
        print(line)
    print(f"\nTemporal actions of the last 1-worker sweep: {dict(totals)}")
    if len(times) >= 2:
        (n1, t1), (n2, t2) = times[0], times[-1]
        print(f"{n2:,} vs {n1:,} tenants: {n2 / n1:.1f}x the work took {t2 / t1:.2f}x the "
              f"time (growth ratio {(t2 / t1) / (n2 / n1):.2f}; 1.00 = linear)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 2000, 5000],
                        help="tenant counts to sweep, each a superset (default: 1000 2000 5000)")
    parser.add_argument("--concurrency", type=int, default=4, help="batches in flight")
    parser.add_argument("--batch-size", type=int, default=100, help="tenants per activity")
    parser.add_argument("--batches-per-run", type=int, default=50,
                        help="batches per sweep run before continue-as-new")
    parser.add_argument("--baseline", type=int, default=300,
                        help="tenants checked one workflow each first (0 = none)")
    parser.add_argument("--no-scale", action="store_true",
                        help="skip the second sweep of the largest N with two workers")
    parser.add_argument("--accounts", type=int, default=50,
                        help="AWS accounts the tenants share (each tenant its own role and "
                             "key); 0 = one account per tenant (slow to seed on localaws)")
    parser.add_argument("--memory", action="store_true",
                        help="Temporal dev server in memory instead of a SQLite file")
    args = parser.parse_args()
    act_as_service()
    inp = SweepInput(concurrency=args.concurrency, batch_size=args.batch_size,
                     batches_per_run=args.batches_per_run)
    asyncio.run(main_async(args.n, inp, args.baseline, not args.no_scale, not args.memory,
                           args.accounts))


if __name__ == "__main__":
    main()
