"""`byok tenant delete`: offboard a tenant, its key-health schedule removed; --force needed
while backups under its key exist."""

from __future__ import annotations

from typing import Annotated

import typer

from starter.context import console, context, emit, run_async


def tenant_delete(
        tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name.")],
        force: Annotated[bool, typer.Option(
            "--force", help="Offboard even though backups under the tenant's key exist.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Offboard a tenant: stop its key-health checks; refused while backups under its key
    exist unless --force (the consequences are printed)."""
    from control.tenants import delete_tenant

    ctx = context()

    async def body() -> None:
        out = await delete_tenant(ctx.engine, ctx.temporal, tenant, force=force, actor="cli")

        def human() -> None:
            console.print(f"tenant [bold]{out['name']}[/] offboarded ({out['tenant_id']}):")
            for line in out["consequences"]:
                console.print(f"  - {line}", highlight=False)
        emit(out, as_json, human)
    run_async(body)


def register(tenant_app: typer.Typer) -> None:
    tenant_app.command("delete")(tenant_delete)
