"""`byok dev`: play the tenant's side on the embedded stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from starter.context import console, context, emit, run

dev_app = typer.Typer(help="Development helpers for the embedded stack.", no_args_is_help=True)


@dev_app.command("legacy-tenant")
def legacy_tenant(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    account: Annotated[str, typer.Option(help="Tenant AWS account.")] = "444455556666",
    regions: Annotated[str, typer.Option(help="Connected regions.")] =
        "us-east-1,us-west-2,eu-west-1",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a tenant on the legacy single-region BYOK (template v1), as in the field."""
    from starter.legacy import create_legacy_tenant
    ctx = context()

    def body() -> None:
        made = create_legacy_tenant(ctx.settings, ctx.engine, name=name, account_id=account,
                                    regions=regions.split(","))
        emit(made.__dict__, as_json, lambda: console.print(
            f"legacy tenant {name} ({made.tenant_id}): v1 stack deployed, key {made.key_arn}"))
    run(body)


@dev_app.command("customer-deploy")
def customer_deploy(
    token: Annotated[str, typer.Option(help="The VaultToken printed by `byok enable`.")],
    existing_key: Annotated[str, typer.Option(help="Use this multi-region key id.")] = "",
    external_id: Annotated[str, typer.Option(help="ExternalId (default: the issued one).")] = "",
    role_name: Annotated[str, typer.Option(help="RoleName parameter.")] = "ByokVaultKMSRole",
    account: Annotated[str, typer.Option(help="Tenant account (default: the token's).")] = "",
    template: Annotated[Path | None, typer.Option(
        help="Deploy this edit of our template (e.g. a stricter role) instead of ours.",
        exists=True, dir_okay=False, readable=True)] = None,
    upgrade: Annotated[bool, typer.Option("--upgrade", help="Update an existing stack.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deploy the stack in the tenant's account on localaws, as the tenant would; its custom
    resource reports through SNS and SQS, and the stack completes when byok-vault answered."""
    from byok import cfn, enablement
    from byok.db import session_scope
    from byok.errors import NotFound
    from byok.models import EnableToken
    from starter.customer import deploy_stack

    ctx = context()

    def body() -> None:
        with session_scope(ctx.engine) as session:
            row = session.get(EnableToken, enablement.hash_secret(token))
            if row is None and not (account and external_id):
                raise NotFound("unknown token (pass --account and --external-id to deploy "
                               "anyway)", field="token")
            acct = account or (row.account_id if row else "")
            ext = external_id or (row.external_id if row else "")
            # The stack name the quick-create and update links of this tenant carry.
            stack = cfn.stack_name_for(row.tenant_id) if row else ""
        text = template.read_text(encoding="utf-8") if template else ""
        payload = deploy_stack(ctx.settings, account_id=acct, token=token, external_id=ext,
                               existing_key=existing_key, role_name=role_name, upgrade=upgrade,
                               stack_name=stack, template_body=text)
        emit({"stack": payload | {"token": "[hidden]"}}, as_json,
             lambda: console.print(f"stack deployed in {acct} and answered by byok-vault"))
    run(body)


@dev_app.command("connect-deploy")
def connect_deploy(
    token: Annotated[str, typer.Option(help="The token printed by `byok connect`.")],
    account: Annotated[str, typer.Option(help="Deploy in this account (default: the "
                                                "connection's).")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deploy the connection stack in the tenant's account on localaws, as the tenant would;
    it completes (and the connection is verified) once byok-vault proved its role."""
    from byok import connection_template, connections
    from byok.db import session_scope
    from byok.errors import NotFound
    from starter.customer import deploy_connection_stack

    ctx = context()

    def body() -> None:
        with session_scope(ctx.engine) as session:
            row = connections.by_token(session, token)
            if row is None:
                raise NotFound("unknown connection token", field="token")
            acct, ext, role = account or row.account_id, row.external_id, row.role_name
            stack = connection_template.stack_name_for(row.tenant_id)
        out = deploy_connection_stack(ctx.settings, account_id=acct, token=token,
                                      external_id=ext, role_name=role, stack_name=stack)
        emit(out, as_json, lambda: console.print(
            f"connection stack deployed in {acct} and answered by byok-vault"))
    run(body)
