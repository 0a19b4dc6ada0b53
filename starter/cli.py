"""`byok`: the command line of byok-vault."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from byok import audit, crud
from byok.db import session_scope
from byok.temporal import connect
from starter import actions, backup_cmds, health_cmds
from starter.context import Ctx, console, context, emit, fail, run, run_async
from starter.dev import dev_app
from starter.keys import keys_app
from starter.service_cmds import service_app

app = typer.Typer(help="byok-vault: tenant-owned KMS keys for backups.", no_args_is_help=True)
tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(dev_app, name="dev")
app.add_typer(keys_app, name="keys")
app.add_typer(service_app, name="service")
backup_cmds.register(app)
health_cmds.register(app)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id or name.")]


@app.command()
def up(with_demo: Annotated[bool, typer.Option(
        "--demo", help="Once everything is up, walk a demo tenant to Enabled.")] = False) -> None:
    """Start the embedded stack: Temporal, local AWS, the worker and the web app."""
    from starter.demo import run_demo
    from starter.up import run_up, web_url

    settings = context().settings
    local = settings.model_copy(update={
        "temporal_address": f"127.0.0.1:{settings.temporal_port}",
        "public_url": web_url(settings)})
    after = (lambda: run_demo(Ctx(local))) if with_demo else None
    raise typer.Exit(run_up(settings, after_ready=after))


@tenant_app.command("create")
def tenant_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a tenant."""
    ctx = context()

    def body() -> None:
        with session_scope(ctx.engine) as session:
            t = crud.create_tenant(session, name=name)
        emit({"id": t.id, "name": t.name}, as_json,
             lambda: console.print(f"tenant [bold]{t.name}[/] created: {t.id}"))
    run(body)


@tenant_app.command("list")
def tenant_list(as_json: JsonOpt = False) -> None:
    """List tenants."""
    ctx = context()
    with session_scope(ctx.engine) as session:
        rows = [{"id": t.id, "name": t.name} for t in crud.list_tenants(session)]
    def human() -> None:
        for r in rows:
            console.print(f"{r['id']}  {r['name']}")
    emit(rows, as_json, human)


def connect_account(
    tenant: TenantOpt,
    account: Annotated[str, typer.Option(help="12-digit AWS account id.")],
    regions: Annotated[str, typer.Option(help="Comma-separated regions.")],
    as_json: JsonOpt = False,
) -> None:
    """Connect an AWS account and its regions to a tenant."""
    ctx = context()

    def body() -> None:
        with session_scope(ctx.engine) as session:
            t = crud.get_tenant(session, ref=tenant)
            conn = crud.connect_account(session, tenant=t, account_id=account,
                                        regions=regions.split(","))
            data = {"tenant_id": t.id, "account_id": conn.account_id, "regions": conn.regions}
        emit(data, as_json, lambda: console.print(
            f"account {data['account_id']} connected: {', '.join(data['regions'])}"))
    run(body)


app.command("connect")(connect_account)


@app.command()
def enable(
    tenant: TenantOpt,
    account: Annotated[str, typer.Option(help="The 12-digit AWS account that holds the key.")],
    accept_irretrievable: Annotated[bool, typer.Option(
        "--accept-irretrievable",
        help="I understand deleting the CMK or the account makes backups irretrievable.")] = False,
    accept_immutable: Annotated[bool, typer.Option(
        "--accept-immutable",
        help="I understand the CMK and account can never be changed once enabled.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start BYOK enablement: prints the token, ExternalId and template links."""
    ctx = context()

    async def body() -> None:
        client = await connect(ctx.settings)
        issued = await actions.start_enable(
            client, ctx.engine, ctx.settings, tenant=tenant, account=account,
            accept_irretrievable=accept_irretrievable, accept_immutable=accept_immutable,
            actor="cli")
        data = issued.public()

        def human() -> None:
            console.print("[bold]BYOK enablement started.[/] Deploy our CloudFormation stack in "
                          f"account {issued.account_id}, region "
                          f"{ctx.settings.control_plane_region}:")
            for label, key in [("Quick-create link", "deployment_url"),
                               ("Template URL", "template_url"), ("VaultToken", "token"),
                               ("ExternalId", "external_id"),
                               ("Service AWS account", "service_account_id"),
                               ("Token expires", "expires_at")]:
                console.print(f"  {label:20} {data[key]}", highlight=False, soft_wrap=True)
            console.print("The token is shown only now. Then: byok wait --tenant "
                          f"{tenant}")
        emit(data, as_json, human)
    run_async(body)


@app.command()
def status(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """Show the tenant's wallet (BYOK state, key, replicas, errors)."""
    ctx = context()
    data = run(lambda: actions.wallet_status(ctx.engine, ctx.settings, tenant))

    def human() -> None:
        table = Table(show_header=False, box=None)
        for key in ("state", "error_code", "error_message", "account_native_id", "role_arn",
                    "key_arn", "replica_key_arns", "installed_regions", "key_errors",
                    "stack_version", "available_version", "temporal_ui_url"):
            if data.get(key) not in (None, {}, []):
                table.add_row(key, str(data[key]))
        console.print(table)
        if data.get("upgrade_available"):
            console.print("An upgrade of the stack to the multi-region template is available.")
    emit(data, as_json, human)


@app.command()
def wait(tenant: TenantOpt,
         timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 600.0,
         as_json: JsonOpt = False) -> None:
    """Wait until the wallet is Enabled or in Error, showing each step."""
    ctx = context()
    deadline, seen = time.monotonic() + timeout, 0
    while True:
        data = run(lambda: actions.wallet_status(ctx.engine, ctx.settings, tenant))
        for step in data["progress"][seen:]:
            if not as_json:
                console.print(f"  {step['at'][:19]}  {step['step']}")
        seen = len(data["progress"])
        if data["state"] in ("Enabled", "Error", "NotConfigured"):
            break
        if time.monotonic() > deadline:
            fail(f"still {data['state']} after {timeout:.0f}s", code=3)
        time.sleep(0.5)
    emit(data, as_json, lambda: console.print(
        f"state: [bold]{data['state']}[/]"
        + (f" {data['error_code']}: {data['error_message']}" if data["error_code"] else "")))
    if data["state"] != "Enabled":
        raise typer.Exit(1)


@app.command("audit")
def audit_cmd(tenant: TenantOpt, verify: Annotated[bool, typer.Option("--verify")] = False,
              as_json: JsonOpt = False) -> None:
    """List the tenant's audit history, or verify its hash chain."""
    ctx = context()

    def body() -> None:
        with session_scope(ctx.engine) as session:
            t = crud.get_tenant(session, ref=tenant)
            if verify:
                report = audit.verify(session, t.id)
                data = {"ok": report.ok, "events": report.count,
                        "first_bad_seq": report.first_bad_seq, "problem": report.problem}
                emit(data, as_json, lambda: console.print(
                    f"audit chain OK ({report.count} events)" if report.ok
                    else f"[bold red]audit chain BROKEN[/] at event {report.first_bad_seq}: "
                         f"{report.problem}"))
                if not report.ok:
                    raise SystemExit(1)
                return
            events = audit.history(session, t.id)

        def human() -> None:
            for e in events:
                console.print(f"{e.seq:>5} {e.at:%Y-%m-%d %H:%M:%S} {e.actor:10} "
                              f"{e.action:28} {e.details}", highlight=False)
        emit([{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
               "details": e.details, "hash": e.hash} for e in events], as_json, human)
    run(body)


@app.command()
def migrate(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """Upgrade a legacy (single-region) BYOK tenant to the multi-region key."""
    ctx = context()

    async def body() -> None:
        client = await connect(ctx.settings)
        data = await actions.start_migration(client, ctx.engine, ctx.settings, tenant=tenant,
                                             actor="cli")

        def human() -> None:
            if not data["migrated"]:
                console.print(data["message"])
                return
            console.print("[bold]Migration started.[/] Your current key is healthy. Update "
                          "the byok-vault stack with the v2 template:")
            for label, key in [("Update link", "deployment_url"), ("Template URL",
                               "template_url"), ("VaultToken", "token"),
                               ("ExternalId (unchanged)", "external_id")]:
                console.print(f"  {label:24} {data[key]}", highlight=False)
            console.print("The token is shown only now. Old backups stay under the current "
                          "key; new backups move to the multi-region key once verified.")
        emit(data, as_json, human)
    run_async(body)


@app.command()
def demo(migration: Annotated[bool, typer.Option(
        "--migration", help="Instead, migrate a legacy tenant to the multi-region key.")] = False
         ) -> None:
    """Walk a demo tenant from connect to Enabled on the embedded stack."""
    from starter.demo import run_demo, run_migration_demo
    ctx = context()
    run(lambda: (run_migration_demo if migration else run_demo)(ctx))


if __name__ == "__main__":
    app()
