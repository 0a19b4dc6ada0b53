"""`byok demo`: a demo tenant from connect to Enabled with replicas, on the embedded stack."""

from __future__ import annotations

import asyncio
import secrets
import time

from byok.errors import ByokError
from control import connections, enablement, tenants
from control.backups import run_backup
from control.catalog import backup_view
from control.restores import run_restore
from control.wallet import wallet_status
from starter.context import Ctx, console
from starter.customer import deploy_connection_stack, deploy_stack

DEMO_ACCOUNT = "444455556666"
DEMO_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


def run_demo(ctx: Ctx) -> None:
    asyncio.run(_demo(ctx))


async def _demo(ctx: Ctx) -> None:
    settings = ctx.settings
    name = f"demo-{secrets.token_hex(3)}"
    tenant = tenants.create_tenant(ctx.engine, name=name, actor="demo")
    conn = connections.connect_account(ctx.engine, settings, tenant=tenant.id,
                                       account_id=DEMO_ACCOUNT, regions=DEMO_REGIONS,
                                       actor="demo")
    # The connection stack completes once the consumer proved its role with the ExternalId.
    await asyncio.to_thread(deploy_connection_stack, settings, account_id=DEMO_ACCOUNT,
                            token=conn["token"], external_id=conn["external_id"],
                            role_name=conn["role_name"], stack_name=conn["stack_name"])
    console.print(f"1. tenant [bold]{name}[/] ({tenant.id}) connected account {DEMO_ACCOUNT} "
                  f"in {', '.join(DEMO_REGIONS)} (connection stack verified)")
    issued = await enablement.start_enable(ctx.engine, settings, ctx.temporal, tenant=tenant.id,
                                           account=DEMO_ACCOUNT, accept_irretrievable=True,
                                           accept_immutable=True, actor="demo")
    console.print(f"2. enable: token issued (expires {issued.expires_at:%Y-%m-%d}), "
                  f"workflow {issued.workflow_id}")
    # The stack completes only once we answered its custom resource (SNS -> SQS -> consumer
    # -> workflow -> ResponseURL), after role and key were verified.
    payload = await asyncio.to_thread(
        deploy_stack, settings, account_id=DEMO_ACCOUNT, token=issued.token,
        external_id=issued.external_id, stack_name=issued.stack_name)
    console.print(f"3. tenant deployed the stack: role {payload['role_arn']}")
    console.print("4. the stack reported through the queue; role and key verified, "
                  "replicating ...")
    deadline = time.monotonic() + 120
    while True:
        status = wallet_status(ctx.engine, settings, tenant.id)
        if status["state"] in ("Enabled", "Error"):
            break
        if time.monotonic() > deadline:
            raise ByokError("the demo did not reach Enabled in 120 s", code="DEMO_TIMEOUT")
        await asyncio.sleep(0.5)
    console.print(f"5. wallet [bold]{status['state']}[/]: key {status['key_arn']}")
    for region, arn in status["replica_key_arns"].items():
        console.print(f"   replica {region}: {arn}")
    if status["error_code"]:
        console.print(f"   error {status['error_code']}: {status['error_message']}")
    console.print(f"   watch it in the Temporal UI: {status['temporal_ui_url']}")


def run_migration_demo(ctx: Ctx) -> None:
    asyncio.run(_migration_demo(ctx))


async def _migration_demo(ctx: Ctx) -> None:
    """A legacy tenant with a backup migrates; old and new backups both restore."""
    from starter.legacy import create_legacy_tenant

    settings, engine = ctx.settings, ctx.engine
    home = settings.home.resolve() / "demo"
    home.mkdir(parents=True, exist_ok=True)
    name = f"legacy-{secrets.token_hex(3)}"
    made = create_legacy_tenant(settings, engine, name=name, account_id=DEMO_ACCOUNT,
                                regions=DEMO_REGIONS)
    console.print(f"1. legacy tenant [bold]{name}[/] on template v1, single-region key "
                  f"{made.key_arn}")
    src = home / f"{name}-old.bin"
    src.write_bytes(b"backed up under the legacy key\n" * 1000)
    old = await run_backup(engine, settings, ctx.temporal, tenant=made.tenant_id,
                           workload="sql_ec2", source=f"file://{src}", region=None,
                           actor="demo")
    console.print(f"2. backup {old['id']} under the legacy key")
    status = wallet_status(engine, settings, made.tenant_id)
    console.print(f"3. status says: {status['upgrade']}")
    issued = await enablement.start_migration(engine, settings, ctx.temporal,
                                              tenant=made.tenant_id, actor="demo")
    console.print("4. migration started: legacy key healthy, upgrade token issued")
    await asyncio.to_thread(
        deploy_stack, settings, account_id=DEMO_ACCOUNT, token=issued["token"],
        external_id=issued["external_id"], upgrade=True)
    console.print("5. the tenant updated the stack to v2; verifying and replicating ...")
    deadline = time.monotonic() + 120
    while (status := wallet_status(engine, settings, made.tenant_id))[
            "stack_version"] != 2:
        if status["error_code"] or time.monotonic() > deadline:
            raise ByokError(f"migration did not finish: {status['error_message']}",
                            code=status["error_code"] or "DEMO_TIMEOUT")
        await asyncio.sleep(0.5)
    console.print(f"6. migrated: new multi-region key {status['key_arn']}, replicas in "
                  f"{', '.join(status['replica_key_arns'])}")
    src.write_bytes(b"backed up under the multi-region key\n" * 1000)
    new = await run_backup(engine, settings, ctx.temporal, tenant=made.tenant_id,
                           workload="sql_ec2", source=f"file://{src}", region=None,
                           actor="demo")
    for label, backup in (("old", old), ("new", new)):
        out = home / f"{name}-{label}.restored"
        await run_restore(engine, settings, ctx.temporal, tenant=made.tenant_id,
                          backup_id=backup["id"], target=str(out), force=True, actor="demo")
        kind = backup_view(engine, made.tenant_id, backup["id"])["key_kind"]
        console.print(f"7. {label} backup {backup['id']} ({kind} key) restored to {out}")
