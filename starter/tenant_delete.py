"""`byok tenant delete`: offboard a tenant, its key-health schedule removed; --force needed
while backups under its key exist."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from byok import crud, offboard
from byok.db import session_scope
from byok.temporal import connect
from starter.context import console, context, emit, run_async
from workflows.key_health import schedule_id


async def delete_tenant(client: Client, engine: Engine, tenant: str, *, force: bool,
                        actor: str) -> dict[str, Any]:
    """Refuse first (changing nothing), then stop the schedule, then mark the tenant: a
    failure to reach Temporal leaves the tenant as it was, and a re-run finishes the job."""
    with session_scope(engine) as session:
        t = crud.get_tenant(session, ref=tenant)
        stake = offboard.at_stake(session, t.id)
    if stake["backups"] and not force:
        with session_scope(engine) as session:  # raises TenantHasBackups, writes nothing
            offboard.offboard(session, tenant_ref=t.id, force=False, actor=actor)
    schedule = "none"
    try:
        await client.get_schedule_handle(schedule_id(t.id)).delete()
        schedule = "deleted"
    except RPCError as exc:
        # NOT_FOUND: the sweep schedule covers it (it skips offboarded tenants);
        # UNIMPLEMENTED: a server without Schedules has none to delete.
        if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNIMPLEMENTED):
            raise
    with session_scope(engine) as session:
        out = offboard.offboard(session, tenant_ref=t.id, force=force, actor=actor)
    return {**out, "schedule": schedule}


def tenant_delete(
        tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name.")],
        force: Annotated[bool, typer.Option(
            "--force", help="Offboard even though backups under the tenant's key exist.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Offboard a tenant: stop its key-health checks; refused while backups under its key
    exist unless --force (the consequences are printed)."""
    ctx = context()

    async def body() -> None:
        client = await connect(ctx.settings)
        out = await delete_tenant(client, ctx.engine, tenant, force=force, actor="cli")

        def human() -> None:
            console.print(f"tenant [bold]{out['name']}[/] offboarded ({out['tenant_id']}):")
            for line in out["consequences"]:
                console.print(f"  - {line}", highlight=False)
        emit(out, as_json, human)
    run_async(body)


def register(tenant_app: typer.Typer) -> None:
    tenant_app.command("delete")(tenant_delete)
