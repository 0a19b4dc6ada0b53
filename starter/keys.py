"""`byok keys`: create, list and revoke a tenant's API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from starter.context import console, context, emit, run

keys_app = typer.Typer(help="Create, list and revoke tenant API keys.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id or name.")]


@keys_app.command("create")
def keys_create(tenant: TenantOpt,
                name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "cli",
                as_json: JsonOpt = False) -> None:
    """Create an API key; the key is printed once and cannot be shown again."""
    from control import tenants
    ctx = context()

    def body() -> None:
        t = tenants.get_tenant(ctx.engine, tenant)
        issued = tenants.create_api_key(ctx.engine, tenant=t.id, name=name, actor="cli")
        data = {"id": issued.row.id, "tenant_id": t.id, "name": issued.row.name,
                "prefix": issued.row.prefix, "key": issued.key}

        def human() -> None:
            console.print(f"API key [bold]{data['id']}[/] ({data['name']}) for tenant {t.name}:")
            console.print(data["key"], highlight=False, soft_wrap=True)
            console.print("[yellow]Store it now: it is kept only as a hash and cannot be "
                          "shown again.[/]")
        emit(data, as_json, human)
    run(body)


@keys_app.command("list")
def keys_list(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """List a tenant's API keys (ids and prefixes, never the keys)."""
    from control import tenants
    ctx = context()

    def body() -> None:
        rows = [{"id": k.id, "name": k.name, "prefix": k.prefix,
                 "created_at": k.created_at.isoformat(),
                 "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                 "revoked": k.revoked_at is not None}
                for k in tenants.list_api_keys(ctx.engine, tenant)]

        def human() -> None:
            for r in rows:
                state = "revoked" if r["revoked"] else "active"
                console.print(f"{r['id']}  {r['prefix']}…  {r['name']}  {state}",
                              highlight=False)
        emit(rows, as_json, human)
    run(body)


@keys_app.command("revoke")
def keys_revoke(tenant: TenantOpt, key_id: Annotated[str, typer.Argument(help="The key's id.")],
                as_json: JsonOpt = False) -> None:
    """Revoke an API key at once; requests with it then get 401."""
    from control import tenants
    ctx = context()

    def body() -> None:
        row = tenants.revoke_api_key(ctx.engine, tenant=tenant, key_id=key_id, actor="cli")
        data = {"id": row.id, "revoked_at": row.revoked_at.isoformat()
                if row.revoked_at else None}
        emit(data, as_json, lambda: console.print(f"API key {data['id']} revoked"))
    run(body)
