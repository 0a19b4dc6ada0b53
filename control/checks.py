"""Key-health checks on demand: the scheduled check, run now."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy.engine import Engine

from byok import crud, keyring
from byok.db import session_scope
from byok.health_messages import HealthCheckInput, HealthOutcome
from byok.settings import Settings
from control import Temporal
from control.keyhealth import health_view, with_health
from control.wallet import wallet_status
from workflows.key_health import KeyHealthWorkflow

CHECK_TIMEOUT = 45.0  # an on-demand check answers in seconds; a stuck one must not hang a page


async def check_now(engine: Engine, settings: Settings, temporal: Temporal, tenant: str,
                    requested_by: str, timeout: float | None = None) -> dict[str, Any]:
    """Run one check now (the same workflow the schedule runs); says how it went. A check
    that outlasts `timeout` goes on, and its result shows once done."""
    with session_scope(engine) as session:
        tenant_id = crud.get_tenant(session, ref=tenant).id
    client = await temporal()
    try:
        outcome: HealthOutcome = await asyncio.wait_for(client.execute_workflow(
            KeyHealthWorkflow.run, HealthCheckInput(tenant_id, requested_by, force_drill=True),
            id=f"key-health-{tenant_id}-now-{secrets.token_hex(4)}",
            task_queue=settings.task_queue), timeout)
    except TimeoutError:
        return {"checked": False, "alert_id": None,
                "error": f"the check did not finish within {timeout or 0:.0f} s; it goes on "
                         "and its result shows here once done"}
    return {"checked": outcome.checked, "error": outcome.error, "alert_id": outcome.alert_id}


async def check_health(engine: Engine, settings: Settings, temporal: Temporal, tenant: str,
                       requested_by: str) -> dict[str, Any]:
    """Check now, then the health view with the check's outcome under `check`."""
    check = await check_now(engine, settings, temporal, tenant, requested_by)
    return health_view(engine, tenant) | {"check": check}


async def refresh_wallet(engine: Engine, settings: Settings, temporal: Temporal, tenant: str,
                         requested_by: str = "api") -> dict[str, Any]:
    """Run the key-health check now and return the wallet with its fresh health; with no key
    of the tenant's there is nothing to check."""
    with session_scope(engine) as session:
        tenant_id = crud.get_tenant(session, ref=tenant).id
        has_key = bool(keyring.bindings(session, tenant_id))
    check = None
    if has_key:
        check = await check_now(engine, settings, temporal, tenant_id, requested_by,
                                timeout=CHECK_TIMEOUT)
    return with_health(engine, wallet_status(engine, settings, tenant_id), check)
