"""KMS requests for N small backups and restores of one tenant and region: key cache vs naive."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from temporalio.testing import ActivityEnvironment

from activities.storage import FileStore
from activities.vault import VaultActivities
from byok import backups, connections, crud
from byok.aws import AwsClients
from byok.db import make_engine, migrate, session_scope
from byok.keycache import CachingKeyProvider
from byok.messages import BackupInput, RestoreInput
from byok.settings import Settings, load_settings
from control.service import ensure_service_resources
from worker import key_cache

SERVICE_ACCOUNT, TENANT_ACCOUNT, REGION = "111122223333", "444455556666", "us-east-1"


def run(n: int, size: int, cached: bool, settings: Settings, engine: Engine,
        aws: AwsClients, work: Path) -> list[tuple[str, Counter[str], float]]:
    """n backups then n restores of one fresh tenant; (phase, KMS requests, seconds) each."""
    vault = VaultActivities(aws, engine, settings, FileStore(settings.vault_dir),
                            key_cache(settings))
    if not cached:
        # The same code path with caching off: one GenerateDataKey / Decrypt per backup.
        def naive(tenant_id: str) -> CachingKeyProvider:
            return VaultActivities.provider(vault, tenant_id).without_cache()
        vault.provider = naive  # type: ignore[method-assign]
    env = ActivityEnvironment()
    with session_scope(engine) as session:
        t = crud.create_tenant(session, name=f"bench-{secrets.token_hex(3)}")
        connections.request(session, settings, tenant=t, account_id=TENANT_ACCOUNT,
                                regions=[REGION], actor="bench")
        tenant = t.id
    src = backups.uploads_dir(settings, tenant) / "src"  # the worker reads only uploads
    src.parent.mkdir(parents=True)
    src.write_bytes(os.urandom(size))
    out_dir = backups.restores_dir(settings, tenant)  # and writes only the restores folder

    def phase(name: str, step: Callable[[int], object]) -> tuple[str, Counter[str], float]:
        aws.requests["kms"].clear()
        start = time.perf_counter()
        for i in range(n):
            step(i)
        return name, Counter(aws.requests["kms"]), time.perf_counter() - start

    ids: list[str] = []

    def backup(_: int) -> None:
        with session_scope(engine) as session:
            plan = backups.plan_backup(session, settings, BackupInput(
                tenant, backups.new_id("bk"), "m365", f"file://{src}", REGION, "bench"))
        result = env.run(vault.write_backup, plan)
        with session_scope(engine) as session:
            backups.finish_backup(session, result)
        ids.append(plan.backup_id)

    def restore(i: int) -> None:
        with session_scope(engine) as session:
            plan = backups.plan_restore(session, settings, RestoreInput(
                tenant, backups.new_id("rs"), ids[i], str(out_dir / ids[i])))
        env.run(vault.read_restore, plan)

    return [phase("backup", backup), phase("restore", restore)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="backups (and restores) per run")
    parser.add_argument("--size", type=int, default=1024, help="bytes per backup")
    args = parser.parse_args()
    # Act as the service's account on localaws, never as a real AWS user.
    os.environ.update(AWS_ACCESS_KEY_ID=SERVICE_ACCOUNT, AWS_SECRET_ACCESS_KEY="local",
                      AWS_DEFAULT_REGION=REGION)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    # The editable install does not map localaws (it is dev-only): import it from the checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from localaws import LocalAws

    with tempfile.TemporaryDirectory() as tmp, LocalAws() as local:
        work = Path(tmp)
        settings = load_settings(home=work / "home", aws_endpoint_url=local.url,
                                 database_url="")
        engine = make_engine(settings.db_url, audit_keys=settings.audit_keys)
        migrate(engine)
        aws = AwsClients(settings)
        ensure_service_resources(aws, settings)
        rows = {}
        for cached in (True, False):
            for name, counts, secs in run(args.n, args.size, cached, settings, engine, aws,
                                          work):
                rows[name, cached] = (counts, secs)
    print(f"KMS requests reaching localaws for {args.n:,} backups of {args.size} B, one tenant "
          f"and region (key cache: max_age {settings.keycache_max_age_seconds}s, max_uses "
          f"{settings.keycache_max_uses:,})\n")
    head = (f"| {'phase':<8}| {'provider':<23}| {'GenerateDataKey':>15} | {'Decrypt':>8} | "
            f"{'all KMS':>8} | {'per op':>8} | {'ops/s':>7} |")
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for phase in ("backup", "restore"):
        for cached in (True, False):
            counts, secs = rows[phase, cached]
            label = "key cache (ours)" if cached else "naive: 1 data key each"
            total = sum(counts.values())
            print(f"| {phase:<8}| {label:<23}| {counts['GenerateDataKey']:>15,} | "
                  f"{counts['Decrypt']:>8,} | {total:>8,} | {total / args.n:>8.4f} | "
                  f"{args.n / secs:>7.0f} |")
    print()
    for phase in ("backup", "restore"):
        ours, naive = sum(rows[phase, True][0].values()), sum(rows[phase, False][0].values())
        print(f"{phase}: naive / cached KMS requests = {naive:,} / {ours:,} = "
              f"{naive / max(ours, 1):,.0f}x; target <= 10: {'met' if ours <= 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
