"""`byok`: the command line of byok-vault."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from starter import backup_cmds, health_cmds, service_cmds, tenant_delete
from starter.context import Ctx, console, context, emit, fail, run, run_async
from starter.dev import dev_app
from starter.keys import keys_app

# Each command imports the use cases (control/) it calls in its body: `byok --help` and a
# command's own --help load no database, AWS or Temporal library.

app = typer.Typer(help="byok-vault: tenant-owned KMS keys for backups.", no_args_is_help=True)
tenant_app = typer.Typer(help="Create and list tenants.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(dev_app, name="dev")
app.add_typer(keys_app, name="keys")
backup_cmds.register(app)
health_cmds.register(app)
service_cmds.register(app)
tenant_delete.register(tenant_app)

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


@app.command("provision")
def provision_cmd() -> None:
    """Provision the service's own AWS resources (idempotent): role, callback topic and
    queue, vault bucket, default keys. `byok up` does this on its local AWS."""
    from starter.provision import provision

    settings = context().settings
    run(lambda: provision(settings))
    console.print("service resources provisioned")


@app.command()
def worker() -> None:
    """Start one more worker against the stack `byok up` runs (same settings and AWS
    credentials); Ctrl-C drains it."""
    from starter.join import run_worker

    run_worker(context().settings)


@tenant_app.command("create")
def tenant_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a tenant."""
    from control import tenants
    ctx = context()

    def body() -> None:
        t = tenants.create_tenant(ctx.engine, name=name, actor="operator")
        emit({"id": t.id, "name": t.name}, as_json,
             lambda: console.print(f"tenant [bold]{t.name}[/] created: {t.id}"))
    run(body)


@tenant_app.command("list")
def tenant_list(as_json: JsonOpt = False) -> None:
    """List tenants."""
    from control import tenants
    ctx = context()
    rows = [{"id": t.id, "name": t.name} for t in tenants.list_tenants(ctx.engine)]

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
    """Ask to connect an AWS account and its regions to a tenant: prints the connection
    stack's link, role name, ExternalId and token. The connection is usable (verified) once
    that stack, deployed in the account, reported back."""
    from control import connections
    ctx = context()

    def body() -> None:
        data = connections.connect_account(ctx.engine, ctx.settings, tenant=tenant,
                                           account_id=account, regions=regions.split(","),
                                           actor="operator")
        emit(data, as_json, lambda: print_connection(data))
    run(body)


def print_connection(data: dict[str, Any]) -> None:
    console.print(f"account {data['account_id']} ({', '.join(data['regions'])}): "
                  f"[bold]{data['state']}[/]")
    if data.get("token"):
        console.print(f"  role name:   {data['role_name']}\n  ExternalId:  {data['external_id']}"
                      f"\n  token:       {data['token']} (shown only now)"
                      f"\n  template:    {data['template_url']}"
                      f"\n  quick-create: {data['deployment_url']}")
    if data.get("error_message"):
        console.print(f"  error: {data['error_message']}")
    console.print(f"  next: {data['next_step']}")


app.command("connect")(connect_account)


@app.command("connections")
def list_connections(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """A tenant's connections: pending, verified or failed, and what to do next."""
    from control import connections
    ctx = context()

    def body() -> None:
        rows = connections.list_connections(ctx.engine, ctx.settings, tenant)

        def human() -> None:
            for r in rows:
                print_connection(r)
        emit(rows, as_json, human)
    run(body)


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
    from control import enablement
    ctx = context()

    async def body() -> None:
        issued = await enablement.start_enable(
            ctx.engine, ctx.settings, ctx.temporal, tenant=tenant, account=account,
            accept_irretrievable=accept_irretrievable, accept_immutable=accept_immutable,
            actor="cli")
        from control.deploy_paths import for_issued
        data: dict[str, Any] = dict(issued.public())
        data["paths"] = for_issued(ctx.engine, ctx.settings, data)

        def human() -> None:
            console.print("[bold]BYOK enablement started.[/] Deploy our CloudFormation stack in "
                          f"account {issued.account_id}, region "
                          f"{ctx.settings.control_plane_region} (quick-create link, or manually "
                          "from the template URL), or use Terraform:")
            for label, key in [("Quick-create link", "deployment_url"),
                               ("Template URL", "template_url"), ("VaultToken", "token"),
                               ("ExternalId", "external_id"),
                               ("Service AWS account", "service_account_id"),
                               ("Token expires", "expires_at")]:
                console.print(f"  {label:20} {data[key]}", highlight=False, soft_wrap=True)
            paths = data["paths"]
            console.print("\n[bold]Or with Terraform[/] (module source "
                          f"{paths['terraform']['module_source']}):", highlight=False)
            console.print(paths["terraform"]["snippet"], highlight=False, markup=False,
                          soft_wrap=True)
            console.print(paths["terraform"]["apply"], highlight=False, markup=False)
            console.print("\n[bold]Replicas you create yourself[/] (ReplicaManagement=tenant, "
                          "after the stack):", highlight=False)
            console.print(paths["cloudformation"]["replicas_commands"], highlight=False,
                          markup=False, soft_wrap=True)
            console.print("The token is shown only now. Then: byok wait --tenant "
                          f"{tenant}")
        emit(data, as_json, human)
    run_async(body)


@app.command()
def status(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """Show the tenant's wallet (BYOK state, key, replicas, errors)."""
    from control.wallet import wallet_status
    ctx = context()
    data = run(lambda: wallet_status(ctx.engine, ctx.settings, tenant))

    def human() -> None:
        from rich.table import Table

        table = Table(show_header=False, box=None)
        for key in ("state", "error_code", "error_message", "account_native_id", "role_arn",
                    "key_arn", "replica_key_arns", "replica_management", "installed_regions",
                    "key_errors", "stack_version", "available_version", "temporal_ui_url"):
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
    from control.wallet import wallet_status
    ctx = context()
    deadline, seen = time.monotonic() + timeout, 0
    while True:
        data = run(lambda: wallet_status(ctx.engine, ctx.settings, tenant))
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
def audit_cmd(tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name.")] = "",
              verify: Annotated[bool, typer.Option("--verify", help=(
                  "Verify the keyed chain, and against the newest anchor."))] = False,
              anchor: Annotated[bool, typer.Option("--anchor", help=(
                  "Anchor every chain's head outside the database now."))] = False,
              as_json: JsonOpt = False) -> None:
    """List the tenant's audit history, verify its chain, or anchor every chain now."""
    from byok.audit_anchor import anchor_store
    from control import tenants
    ctx = context()

    def body() -> None:
        if anchor:
            name, chains = tenants.audit_anchor_now(ctx.engine, anchor_store(ctx.settings,
                                                                             ctx.aws))
            emit({"anchor": name, "chains": chains}, as_json,
                 lambda: console.print(f"anchored {chains} chains as {name}"))
            return
        if not tenant:
            fail("--tenant is required (or --anchor)")
        if verify:
            report = tenants.audit_verify(ctx.engine, tenant,
                                          anchor_store(ctx.settings, ctx.aws))
            data = {"ok": report.ok, "events": report.count,
                    "first_bad_seq": report.first_bad_seq, "problem": report.problem}
            emit(data, as_json, lambda: console.print(
                f"audit chain OK ({report.count} events)" if report.ok
                else f"[bold red]audit chain BROKEN[/] at event {report.first_bad_seq}: "
                     f"{report.problem}"))
            if not report.ok:
                raise SystemExit(1)
            return
        events = tenants.audit_history(ctx.engine, tenant)

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
    from control import enablement
    ctx = context()

    async def body() -> None:
        data = await enablement.start_migration(ctx.engine, ctx.settings, ctx.temporal,
                                                tenant=tenant, actor="cli")

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


@app.command("codec-server")
def codec_server(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8234) -> None:
    """Serve the payload codec to the Temporal UI (its --ui-codec-endpoint), on loopback only:
    it holds BYOK_PAYLOAD_KEYS, so it is an operator's tool, never exposed to tenants."""
    import uvicorn

    context()  # settings are checked here, with a clear message, before uvicorn starts
    uvicorn.run("web.codec_server:create_codec_app", factory=True, host="127.0.0.1", port=port,
                log_level="warning")
