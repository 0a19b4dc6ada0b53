"""What the JSON API and the console both do, scoped to one tenant, input checked first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from byok import backups, cfn, crud, enablement, health, keyring
from byok.db import session_scope
from byok.errors import ByokError, Conflict, InvalidInput, NotFound
from byok.messages import BackupInput, RestoreInput
from byok.models import Backup, Restore
from byok.settings import Settings
from starter import actions, health_cmds
from web import keyhealth

Temporal = Callable[[], Awaitable[Client]]
CHECK_TIMEOUT = 45.0  # an on-demand check answers in seconds; a stuck one must not hang a page


async def start_enable(engine: Engine, settings: Settings, temporal: Temporal, *,
                       tenant_id: str, account: str, accept_irretrievable: bool,
                       accept_immutable: bool, actor: str) -> enablement.Issued:
    with session_scope(engine) as session:
        tenant = crud.get_tenant(session, ref=tenant_id)
        enablement.check_preconditions(session, settings, tenant, account,
                                       accept_irretrievable, accept_immutable)
    return await actions.start_enable(
        await temporal(), engine, settings, tenant=tenant_id, account=account,
        accept_irretrievable=accept_irretrievable, accept_immutable=accept_immutable,
        actor=actor)


def wallet(engine: Engine, settings: Settings, tenant_id: str) -> dict[str, Any]:
    return keyhealth.with_health(engine, actions.wallet_status(engine, settings, tenant_id))


async def refresh_wallet(engine: Engine, settings: Settings, temporal: Temporal,
                         tenant_id: str, requested_by: str = "api") -> dict[str, Any]:
    """Run the key-health check now (the scheduled one, on demand) and return the wallet with
    its fresh health; with no key of the tenant's there is nothing to check."""
    with session_scope(engine) as session:
        has_key = bool(keyring.bindings(session, tenant_id))
    check = None
    if has_key:
        try:
            done = await asyncio.wait_for(health_cmds.check_now(
                await temporal(), engine, settings, tenant_id, requested_by), CHECK_TIMEOUT)
            check = done["check"]
        except TimeoutError:
            check = {"checked": False, "alert_id": None,
                     "error": f"the check did not finish within {CHECK_TIMEOUT:.0f} s; it "
                              "goes on and its result shows here once done"}
    return keyhealth.with_health(engine, actions.wallet_status(engine, settings, tenant_id),
                                 check)


async def start_backup(engine: Engine, settings: Settings, temporal: Temporal, *,
                       tenant_id: str, workload: str, source: str, region: str | None,
                       actor: str) -> dict[str, Any]:
    region = region or settings.control_plane_region
    with session_scope(engine) as session:
        backups.validate_backup(session, BackupInput(tenant_id, "bk-check", workload, source,
                                                     region, actor))
        backups.check_tenant_file(settings, tenant_id, source)
        try:
            health.backup_gate(session, tenant_id, region)
        except health.BackupsPaused as exc:  # refused now, not after a workflow started
            raise Conflict(exc.message, code=exc.code, field="region") from None
    started = await actions.run_backup(await temporal(), engine, settings, tenant=tenant_id,
                                       workload=workload, source=source, region=region,
                                       actor=actor, wait=False)
    await _recorded(engine, Backup, started["backup_id"])
    return started


async def _recorded(engine: Engine, model: type[Backup] | type[Restore], row_id: str,
                    timeout: float = 10.0) -> None:
    """Wait (briefly) for the workflow's first step to write the catalog row, so that a GET
    right after the 202 finds it; a slow worker only makes the caller poll instead."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with session_scope(engine) as session:
            if session.get(model, row_id) is not None:
                return
        await asyncio.sleep(0.05)


def restores_root(settings: Settings) -> Path:
    return (settings.home / "restores").resolve()


def restore_target(settings: Settings, backup_id: str, target: str | None) -> str:
    """Restores land only inside `<BYOK_HOME>/restores`: tenants never pick server paths."""
    root = restores_root(settings)
    try:
        path = (root / (target or backup_id)).resolve()  # an absolute target replaces root
    except (OSError, ValueError):
        raise InvalidInput("not a usable path", field="target") from None
    if path == root or root not in path.parents:
        raise InvalidInput(f"the target must be inside {root}", field="target")
    return str(path)


async def start_restore(engine: Engine, settings: Settings, temporal: Temporal, *,
                        tenant_id: str, backup_id: str, target: str | None, force: bool,
                        actor: str) -> dict[str, Any]:
    path = restore_target(settings, backup_id, target)
    restores_root(settings).mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as session:
        try:
            backups.validate_restore(session, RestoreInput(tenant_id, "rs-check", backup_id,
                                                           path, force, actor))
        except (OSError, ValueError):
            raise InvalidInput("not a usable path", field="target") from None
    started = await actions.run_restore(await temporal(), engine, settings, tenant=tenant_id,
                                        backup_id=backup_id, target=path, force=force,
                                        actor=actor, wait=False)
    await _recorded(engine, Restore, started["restore_id"])
    return started | {"backup_id": backup_id, "target": path}


async def start_migration(engine: Engine, settings: Settings, temporal: Temporal, *,
                          tenant_id: str, actor: str) -> dict[str, Any]:
    """The upgrade bundle, or `migrated: False`; a legacy key that is not healthy is a 409
    naming its finding (the workflow checks it before the tenant touches the stack)."""
    with session_scope(engine) as session:
        bound = enablement.binding(session, tenant_id)
    if bound is None:
        raise InvalidInput("BYOK is not enabled for this tenant; enable it instead",
                           field="tenant")
    if bound.template_version >= cfn.CURRENT_TEMPLATE_VERSION:
        return {"tenant_id": tenant_id, "migrated": False,
                "message": "already on the current template; nothing to migrate"}
    try:
        return await actions.start_migration(await temporal(), engine, settings,
                                             tenant=tenant_id, actor=actor)
    except (InvalidInput, NotFound, Conflict):
        raise
    except ByokError as exc:
        raise Conflict(exc.message, code=exc.code) from None


def list_backups(session: Session, tenant_id: str, limit: int = 500) -> list[dict[str, Any]]:
    return keyhealth.backup_rows(session, backups.list_backups(session, tenant_id)[:limit])


def get_backup(session: Session, tenant_id: str, backup_id: str) -> dict[str, Any] | None:
    try:
        row = backups.get_backup(session, tenant_id, backup_id)
    except NotFound:
        return None
    return keyhealth.backup_rows(session, [row])[0]


def list_restores(session: Session, tenant_id: str, limit: int = 500) -> list[Restore]:
    return list(session.exec(select(Restore).where(Restore.tenant_id == tenant_id)
                             .order_by(col(Restore.created_at).desc()).limit(limit)).all())


def get_restore(session: Session, tenant_id: str, restore_id: str) -> Restore | None:
    row = session.get(Restore, restore_id)
    return row if row is not None and row.tenant_id == tenant_id else None
