"""`byok health`: a tenant's key health per key and region, alerts, blast radius; --now checks."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from starter.context import console, context, emit, run, run_async

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id or name.")]
STYLE = {"Healthy": "green", "Degraded": "yellow", "AtRisk": "bold yellow",
         "Unavailable": "red", "Lost": "bold red", "NotChecked": "dim"}


def _human(data: dict[str, Any]) -> None:
    from rich.table import Table

    state = data["state"]
    console.print(f"key health: [{STYLE.get(state, 'bold')}]{state}[/]  "
                  f"(checked {str(data['checked_at'] or 'never')[:19]})")
    check = data.get("check")
    if check and not check["checked"]:
        console.print(f"[yellow]this check did not complete ({check['error']}); "
                      "the health shown is from the last completed check[/]")
    table = Table("gen", "region", "state", "findings", "backups at stake")
    radius = {(r["key_arn"], r["region"]): r for r in data["blast_radius"]}
    for r in data["regions"]:
        stake = radius.get((r["key_arn"], r["region"]))
        table.add_row(str(r["generation"]), r["region"] + (" (primary)" if r["primary"] else ""),
                      f"[{STYLE.get(r['state'], 'bold')}]{r['state']}[/]",
                      ", ".join(f["code"] for f in r["findings"]) or "-",
                      f"{stake['backups']} ({stake['bytes']} bytes)" if stake else "0")
    console.print(table)
    for f in data["findings"]:
        console.print(f"[bold]{f['code']}[/] {f['region']}: {f['message']}", highlight=False)
        if f.get("deletion_date"):
            console.print(f"  deletion on {f['deletion_date']} ({f['days_left']} days left)")
        if f.get("remedy"):
            console.print(f"  what to do: {f['remedy']}", highlight=False)
    for a in data["alerts"][:5]:
        console.print(f"alert {a['at'][:19]} {a['from']} -> {a['to']} ({a['delivery']})")


def health(tenant: TenantOpt,
           now: Annotated[bool, typer.Option("--now", help="Check now, then show.")] = False,
           as_json: JsonOpt = False) -> None:
    """Show the tenant's key health per key and region, with what is at stake."""
    from control.keyhealth import health_view
    ctx = context()
    if not now:
        data = run(lambda: health_view(ctx.engine, tenant))
        emit(data, as_json, lambda: _human(data))
        return

    async def body() -> None:
        from control.checks import check_health

        data = await check_health(ctx.engine, ctx.settings, ctx.temporal, tenant, "cli")
        emit(data, as_json, lambda: _human(data))
    run_async(body)


def register(app: typer.Typer) -> None:
    app.command()(health)
