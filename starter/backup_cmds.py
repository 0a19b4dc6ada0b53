"""`byok backup`, `byok restore`, `byok backups`: run the workflows, show progress, print."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from starter.context import Ctx, console, context, emit, run, run_async

if TYPE_CHECKING:
    import asyncio

    from temporalio.client import Client

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id or name.")]


def _stage_stdin(ctx: Ctx) -> str:
    """`-` means standard input: staged under BYOK_HOME, where the worker can read it."""
    staging = ctx.settings.home.resolve() / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    from byok.backups import new_id

    path = staging / new_id("stdin")
    with path.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return f"file://{path}"


async def _with_progress(ctx: Ctx, workflow_id: str, total: int | None,
                         work: asyncio.Future[Any], quiet: bool) -> Any:
    """Show the transfer's heartbeats as a progress bar while the workflow runs."""
    if quiet:
        return await work
    import asyncio

    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = [BarColumn(), DownloadColumn(), TransferSpeedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("transfer", total=total)
        while not work.done():
            await asyncio.wait({work}, timeout=0.5)
            try:
                client: Client = await ctx.temporal()
                desc = await client.get_workflow_handle(workflow_id).describe()
                for pending in desc.raw_description.pending_activities:
                    if pending.heartbeat_details.payloads:
                        done = await client.data_converter.decode(
                            pending.heartbeat_details.payloads)
                        bar.update(task, completed=int(done[0]))
            except Exception:  # noqa: BLE001, S112 - progress is best effort, the result is not
                continue
    return await work


def backup(
    tenant: TenantOpt,
    workload: Annotated[str, typer.Option(help="ebs, ec2, m365, vmware_vm, s3, rds, "
                                               "dynamodb, sql_ec2, sql_vmc")],
    source: Annotated[str, typer.Option(help="file://PATH, -, s3://BUCKET/PREFIX, "
                                             "dynamodb://TABLE, ebs://SNAPSHOT")],
    region: Annotated[str | None, typer.Option(help="Default: the control-plane region.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up a source, encrypted under the tenant's key (or the default key before BYOK)."""
    from byok.backups import new_id
    from control.backups import start_backup
    ctx = context()
    if source == "-":
        source = _stage_stdin(ctx)
    elif "://" not in source:
        source = f"file://{Path(source).resolve()}"

    async def body() -> None:
        import asyncio

        backup_id = new_id("bk")
        size = Path(source[7:]).stat().st_size if source.startswith("file://") and \
            Path(source[7:]).is_file() else None
        work = asyncio.ensure_future(start_backup(
            ctx.engine, ctx.settings, ctx.temporal, tenant=tenant, workload=workload,
            source=source, region=region, actor="cli", backup_id=backup_id, wait=True))
        data = await _with_progress(ctx, f"backup-{backup_id}", size, work, as_json)
        emit(data, as_json, lambda: console.print(
            f"backup {data['id']} complete: {data['plaintext_size']} bytes, "
            f"{data['key_kind']} key {data['key_arn']}"))
    run_async(body)


def restore(
    tenant: TenantOpt,
    backup_id: Annotated[str, typer.Option("--backup", help="Backup id.")],
    to: Annotated[Path, typer.Option("--to", help="Target file.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing target.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup to a file (verified in full before it appears at the target)."""
    from control.restores import start_restore
    ctx = context()

    async def body() -> None:
        data = await start_restore(ctx.engine, ctx.settings, ctx.temporal, tenant=tenant,
                                   backup_id=backup_id, target=str(to.resolve()), force=force,
                                   actor="cli", wait=True)
        emit(data, as_json, lambda: console.print(
            f"restored {data['bytes']} bytes of {backup_id} to {data['target']}"))
    run_async(body)


def list_backups(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """List the tenant's backups with the key each depends on."""
    from control.catalog import list_backups
    ctx = context()
    rows = run(lambda: list_backups(ctx.engine, tenant))

    def human() -> None:
        from rich.table import Table

        table = Table("id", "workload", "region", "bytes", "key", "status", "created")
        for r in rows:
            table.add_row(r["id"], r["workload"], r["region"], str(r["plaintext_size"]),
                          r["key_kind"], r["status"], f"{r['created_at']:%Y-%m-%d %H:%M:%S}")
        console.print(table)
    emit(rows, as_json, human)


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
    app.command("backups")(list_backups)

