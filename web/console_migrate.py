"""Encryption Key > Upgrade: legacy key to multi-region key, stack update, live progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from byok import cfn
from byok.errors import ByokError
from control.enablement import start_migration
from control.wallet import wallet_view
from web import session as sess
from web.console_key import key_page_response, migration
from web.deps import EngineDep, LazyTemporalDep, SettingsDep
from web.pages import PageUser, render

router = APIRouter(include_in_schema=False)

def _update_url(settings: Any, tenant_id: str, wallet: dict[str, Any]) -> str:
    # The update link carries no secret, so it can be shown again (the token cannot).
    return cfn.update_stack_url(region=settings.control_plane_region,
                                stack_id=cfn.stack_name_for(tenant_id),
                                template_url=wallet["template_url"])


@router.get("/t/{tenant_id}/encryption-key/upgrade", response_class=HTMLResponse)
def upgrade_page(request: Request, user: PageUser, engine: EngineDep,
                 settings: SettingsDep) -> Response:
    wallet = wallet_view(engine, settings, user.tenant_id)
    mig = migration(wallet)
    if mig is None or mig["state"] == "done":
        return RedirectResponse(f"/t/{user.tenant_id}/encryption-key", status_code=303)
    return render(request, "upgrade.html", user=user, active="key", wallet=wallet,
                  migration=mig, issued=None, region=settings.control_plane_region,
                  update_url=_update_url(settings, user.tenant_id, wallet))


@router.post("/t/{tenant_id}/encryption-key/upgrade", response_class=HTMLResponse)
async def upgrade_start(request: Request, user: PageUser, engine: EngineDep,
                        settings: SettingsDep, temporal: LazyTemporalDep,
                        csrf_token: str = Form("", max_length=200)) -> Response:
    if not sess.csrf_ok(sess.load(request, settings), csrf_token):
        return key_page_response(request, user, engine, settings, status_code=403,
                                 upgrade_error="This form expired. Press Upgrade again.")
    try:
        issued = await start_migration(engine, settings, temporal, tenant=user.tenant_id,
                                       actor=user.caller.actor)
    except ByokError as exc:
        return key_page_response(request, user, engine, settings, status_code=409,
                                 upgrade_error=exc.message, upgrade_code=exc.code)
    if not issued["migrated"]:
        return RedirectResponse(f"/t/{user.tenant_id}/encryption-key", status_code=303)
    wallet = wallet_view(engine, settings, user.tenant_id)
    return render(request, "upgrade.html", status_code=201, user=user, active="key",
                  wallet=wallet, migration=migration(wallet), issued=issued,
                  region=settings.control_plane_region, update_url=issued["deployment_url"])


@router.get("/t/{tenant_id}/encryption-key/upgrade/progress", response_class=HTMLResponse)
def upgrade_progress(request: Request, user: PageUser, engine: EngineDep,
                     settings: SettingsDep) -> Response:
    wallet = wallet_view(engine, settings, user.tenant_id)
    mig = migration(wallet) or {"state": "failed", "steps": [], "error_code": None,
                                "error_message": "no migration was started"}
    resp = render(request, "_migration_progress.html", user=user, wallet=wallet, migration=mig)
    resp.headers["X-Progress-State"] = mig["state"]
    return resp
