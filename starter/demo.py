"""`byok demo`: a demo tenant from connect to Enabled with replicas, on the embedded stack."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx

from byok import crud
from byok.db import session_scope
from byok.errors import ByokError
from byok.temporal import connect
from starter import actions
from starter.context import Ctx, console
from starter.customer import deploy_stack

DEMO_ACCOUNT = "444455556666"
DEMO_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


def run_demo(ctx: Ctx) -> None:
    asyncio.run(_demo(ctx))


async def _demo(ctx: Ctx) -> None:
    settings = ctx.settings
    name = f"demo-{secrets.token_hex(3)}"
    with session_scope(ctx.engine) as session:
        tenant = crud.create_tenant(session, name=name, actor="demo")
        crud.connect_account(session, tenant=tenant, account_id=DEMO_ACCOUNT,
                             regions=DEMO_REGIONS, actor="demo")
    console.print(f"1. tenant [bold]{name}[/] ({tenant.id}) connected account {DEMO_ACCOUNT} "
                  f"in {', '.join(DEMO_REGIONS)}")
    client = await connect(settings)
    issued = await actions.start_enable(client, ctx.engine, settings, tenant=tenant.id,
                                        account=DEMO_ACCOUNT, accept_irretrievable=True,
                                        accept_immutable=True, actor="demo")
    console.print(f"2. enable: token issued (expires {issued.expires_at:%Y-%m-%d}), "
                  f"workflow {issued.workflow_id}")
    payload = deploy_stack(settings, account_id=DEMO_ACCOUNT, token=issued.token,
                           external_id=issued.external_id)
    console.print(f"3. tenant deployed the stack: role {payload['role_arn']}")
    url = f"{settings.public_url.rstrip('/')}/api/v1/wallets/_post-process"
    try:
        resp = httpx.post(url, json=payload, timeout=30)
        resp.raise_for_status()
    except httpx.HTTPError:
        await actions.deliver_callback(client, ctx.engine, payload)
    console.print("4. the stack called back; verifying role and key, replicating ...")
    deadline = time.monotonic() + 120
    while True:
        status = actions.wallet_status(ctx.engine, settings, tenant.id)
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
