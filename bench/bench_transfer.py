"""A large backup and restore through the CLI and the real workflows on the embedded stack,
for the file vault and the S3 vault (localaws), against a hashed copy of the same file."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from bench.stack import REGION, ROOT, TENANT_ACCOUNT, Stack, act_as_service, embedded_stack
from byok import connections, crud
from byok.db import session_scope

MIB = 1 << 20
BLOCK = 16 * MIB  # a random block repeated: AES-GCM and the hashes do not care


@dataclass
class Row:
    vault: str
    step: str
    cli_s: float  # the whole `byok` command, process start included
    transfer_s: float  # the transfer activity, scheduled to completed
    peak_mib: float  # worker process: peak RSS above its RSS before the step


def make_source(path: Path, size: int) -> None:
    block = os.urandom(BLOCK)
    with path.open("wb") as fh:
        for _ in range(size // BLOCK):
            fh.write(block)
        fh.write(block[: size % BLOCK])
        fh.flush()
        os.fsync(fh.fileno())


def hashed_copy(src: Path, dst: Path) -> float:
    """The baseline: read, SHA-256, write, one after another on one core; fsynced, as the
    vault and a restore both fsync what they wrote."""
    start = time.perf_counter()
    digest = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while block := fin.read(MIB):
            digest.update(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    secs = time.perf_counter() - start
    dst.unlink()
    return secs


def _kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM := VmRSS
    return _kib("VmRSS")


async def byok(stack: Stack, *args: str) -> tuple[float, dict[str, object]]:
    """Run the real CLI in its own process against the stack; (seconds, its JSON output)."""
    env = {**os.environ, "BYOK_HOME": str(stack.settings.home),
           "BYOK_TEMPORAL_ADDRESS": stack.temporal_address,
           "BYOK_AWS_ENDPOINT_URL": stack.settings.aws_endpoint_url,
           "BYOK_TASK_QUEUE": stack.settings.task_queue,
           "BYOK_VAULT_BACKEND": stack.settings.vault_backend}
    start = time.perf_counter()
    # Async: the worker runs on this process's event loop and must go on polling.
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv" / "bin" / "byok"), *args, "--json", env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    secs = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"byok {' '.join(args)} failed: {err.decode()[-2000:]}")
    return secs, json.loads(out)


async def activity_seconds(stack: Stack, workflow_id: str) -> float:
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = completed = None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed = event.event_time.ToDatetime()
    if scheduled is None or completed is None:
        raise RuntimeError(f"{workflow_id}: no completed transfer activity in its history")
    return (completed - scheduled).total_seconds()


async def run_vault(vault: str, localaws_url: str, src: Path, size: int) -> tuple[float, list[Row]]:
    async with embedded_stack(f"bench-transfer-{vault}", True, localaws_url=localaws_url,
                              vault_backend=vault) as stack:
        with session_scope(stack.engine) as session:
            t = crud.create_tenant(session, name=f"bench-{secrets.token_hex(3)}")
            connections.request(session, stack.settings, tenant=t, account_id=TENANT_ACCOUNT,
                                regions=[REGION], actor="bench")
            tenant = t.id
        baseline = hashed_copy(src, src.with_name("copy"))
        rows = []
        base_rss = reset_peak()
        secs, made = await byok(stack, "backup", "--tenant", tenant, "--workload", "vmware_vm",
                                "--source", str(src))
        peak = (_kib("VmHWM") - base_rss) / 1024
        if made.get("plaintext_size") != size:
            raise RuntimeError(f"backup reported {made.get('plaintext_size')} bytes, not {size}")
        rows.append(Row(vault, "backup", secs,
                        await activity_seconds(stack, f"backup-{made['id']}"), peak))
        target = src.with_name("restored")
        base_rss = reset_peak()
        secs, done = await byok(stack, "restore", "--tenant", tenant, "--backup",
                                str(made["id"]), "--to", str(target))
        peak = (_kib("VmHWM") - base_rss) / 1024
        if target.stat().st_size != size:
            raise RuntimeError("the restored file has the wrong size")
        rows.append(Row(vault, "restore", secs,
                        await activity_seconds(stack, f"restore-{done['restore_id']}"), peak))
        target.unlink()
        return baseline, rows


def start_localaws() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "localaws", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready on " not in line:
        proc.kill()
        raise RuntimeError(f"localaws did not start: {line!r}")
    return proc, line.split("ready on ", 1)[1].strip()


async def main_async(size: int, vaults: list[str]) -> None:
    local, url = start_localaws()
    try:
        with tempfile.TemporaryDirectory(prefix="byok-bench-transfer-", dir=ROOT) as tmp:
            src = Path(tmp) / "source.bin"
            make_source(src, size)
            results = [await run_vault(vault, url, src, size) for vault in vaults]
    finally:
        local.terminate()
        local.wait()
    mb = size / 1e6
    print(f"Backup and restore of a {size / (1 << 30):g} GiB file through `byok backup` / "
          "`byok restore` (own process), BackupWorkflow / RestoreWorkflow on the embedded "
          "stack (Temporal dev server, SQLite catalog, one worker in this process; localaws "
          "in its own process). Baseline: a hashed copy (read, SHA-256, write, fsync) of the "
          "same file, measured in the same run before each vault's steps.\n")
    print("| vault | step | CLI s | transfer s | transfer MB/s | hashed copy s | "
          "copy / transfer | peak worker MiB |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for baseline, rows in results:
        for r in rows:
            print(f"| {r.vault} | {r.step} | {r.cli_s:.2f} | {r.transfer_s:.2f} | "
                  f"{mb / r.transfer_s:,.0f} | {baseline:.2f} | {baseline / r.transfer_s:.2f}x "
                  f"| {r.peak_mib:.0f} |")
    print("\ncopy / transfer >= 1.00x: the transfer is no slower than the hashed copy. "
          "CLI s adds the CLI's own start-up and the workflow's plan and catalog steps.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-gib", type=float, default=1.0, help="file size (default 1)")
    parser.add_argument("--vault", choices=["file", "s3"], nargs="+", default=["file", "s3"])
    args = parser.parse_args()
    act_as_service()
    asyncio.run(main_async(int(args.size_gib * (1 << 30)), args.vault))


if __name__ == "__main__":
    main()
