"""`byok health`: a tenant's key health per key and region, alerts, blast radius; --now checks."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from byok import crud, health_alerts
from byok.db import session_scope
from byok.health_messages import HealthCheckInput, HealthOutcome
from byok.settings import Settings
from byok.temporal import connect
from starter.context import console, context, emit, run, run_async
from workflows.key_health import TENANT_ID, KeyHealthWorkflow

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id or name.")]
STYLE = {"Healthy": "green", "Degraded": "yellow", "AtRisk": "bold yellow",
         "Unavailable": "red", "Lost": "bold red", "NotChecked": "dim"}


def health_view(engine: Engine, tenant: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        return {"tenant_id": t.id, **health_alerts.view(session, t.id)}


async def check_now(client: Client, engine: Engine, settings: Settings, tenant: str,
                    requested_by: str = "cli") -> dict[str, Any]:
    """Run one check now (the same workflow the schedule runs) and return the health view;
    the web app's POST .../_refresh can call this too."""
    with session_scope(engine) as session:
        tenant_id = crud.get_tenant(session, ref=tenant).id
    outcome: HealthOutcome = await client.execute_workflow(
        KeyHealthWorkflow.run, HealthCheckInput(tenant_id, requested_by, force_drill=True),
        id=f"key-health-{tenant_id}-now-{secrets.token_hex(4)}", task_queue=settings.task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)]))
    view = health_view(engine, tenant_id)
    view["check"] = {"checked": outcome.checked, "error": outcome.error,
                     "alert_id": outcome.alert_id}
    return view


def _human(data: dict[str, Any]) -> None:
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
    ctx = context()
    if not now:
        data = run(lambda: health_view(ctx.engine, tenant))
        emit(data, as_json, lambda: _human(data))
        return

    async def body() -> None:
        client = await connect(ctx.settings)
        data = await check_now(client, ctx.engine, ctx.settings, tenant)
        emit(data, as_json, lambda: _human(data))
    run_async(body)


def register(app: typer.Typer) -> None:
    app.command()(health)
