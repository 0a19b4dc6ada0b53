"""Console Backups: each backup's state, a Restore form, the restore's progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from byok.errors import ByokError
from byok.settings import Settings
from control import catalog
from control.restores import restores_root, start_restore
from web import session as sess
from web.auth import deny
from web.deps import EngineDep, LazyTemporalDep, SettingsDep
from web.pages import ConsoleUser, ForeignPage, PageUser, render

router = APIRouter(include_in_schema=False)


@router.get("/t/{tenant_id}/backups", response_class=HTMLResponse)
def backups_page(request: Request, user: PageUser, engine: EngineDep) -> Response:
    return render(request, "backups.html", user=user, active="backups",
                  backups=catalog.list_backups(engine, user.tenant_id),
                  restores=catalog.list_restores(engine, user.tenant_id))


def _form(request: Request, user: ConsoleUser, engine: Engine, settings: Settings,
          backup_id: str, status_code: int = 200, **ctx: Any) -> Response:
    backup = catalog.get_backup(engine, user.tenant_id, backup_id)
    if backup is None or backup["status"] != "complete":
        deny(engine, user.caller, "backup", backup_id, via="console")
        raise ForeignPage(user)
    root = restores_root(settings, user.tenant_id)
    ctx.setdefault("form", {})
    ctx.setdefault("error", {})
    return render(request, "restore_form.html", status_code=status_code, user=user,
                  active="backups", backup=backup, restores_root=root,
                  default_target=str(root / backup_id), **ctx)


@router.get("/t/{tenant_id}/backups/{backup_id}/restore", response_class=HTMLResponse)
def restore_form(request: Request, backup_id: str, user: PageUser, engine: EngineDep,
                 settings: SettingsDep) -> Response:
    return _form(request, user, engine, settings, backup_id)


@router.post("/t/{tenant_id}/backups/{backup_id}/restore", response_class=HTMLResponse)
async def restore_start(request: Request, backup_id: str, user: PageUser, engine: EngineDep,
                        settings: SettingsDep, temporal: LazyTemporalDep,
                        target: str = Form("", max_length=1024),
                        force: str = Form("", max_length=10),
                        csrf_token: str = Form("", max_length=200)) -> Response:
    form = {"target": target, "force": bool(force)}
    if not sess.csrf_ok(sess.load(request, settings), csrf_token):
        return _form(request, user, engine, settings, backup_id, status_code=403, form=form,
                     error={"field": "_form", "message": "This form expired. Submit it again."})
    _form(request, user, engine, settings, backup_id)  # 404 (audited) if not the tenant's
    try:
        started = await start_restore(
            engine, settings, temporal, tenant=user.tenant_id, backup_id=backup_id,
            target=target.strip() or None, force=bool(force), actor=user.caller.actor,
            as_tenant=True)
    except ByokError as exc:
        error = {"field": "target" if exc.field == "target" else "_form",
                 "message": exc.message}
        return _form(request, user, engine, settings, backup_id, status_code=422, form=form,
                     error=error)
    return RedirectResponse(f"/t/{user.tenant_id}/restores/{started['restore_id']}",
                            status_code=303)


def _restore(engine: Engine, user: ConsoleUser, restore_id: str) -> Any:
    row = catalog.get_restore(engine, user.tenant_id, restore_id)
    if row is None:
        raise ForeignPage(user)
    return row


@router.get("/t/{tenant_id}/restores/{restore_id}", response_class=HTMLResponse)
def restore_page(request: Request, restore_id: str, user: PageUser,
                 engine: EngineDep) -> Response:
    row = _restore(engine, user, restore_id)
    return render(request, "restore.html", user=user, active="backups", restore=row,
                  backup=catalog.get_backup(engine, user.tenant_id, row.backup_id))


@router.get("/t/{tenant_id}/restores/{restore_id}/progress", response_class=HTMLResponse)
def restore_progress(request: Request, restore_id: str, user: PageUser,
                     engine: EngineDep) -> Response:
    row = _restore(engine, user, restore_id)
    resp = render(request, "_restore_status.html", user=user, restore=row)
    resp.headers["X-Progress-State"] = {"complete": "done", "failed": "failed"}.get(
        row.status, "running")
    return resp
