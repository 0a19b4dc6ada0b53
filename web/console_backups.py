"""Console Backups: each backup's state, a Restore form, the restore's progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from byok.db import session_scope
from byok.errors import ByokError
from byok.settings import Settings
from web import services
from web import session as sess
from web.auth import deny
from web.deps import EngineDep, LazyTemporalDep, SessionDep, SettingsDep
from web.pages import ConsoleUser, ForeignPage, PageUser, render

router = APIRouter(include_in_schema=False)


@router.get("/t/{tenant_id}/backups", response_class=HTMLResponse)
def backups_page(request: Request, user: PageUser, db: SessionDep) -> Response:
    return render(request, "backups.html", user=user, active="backups",
                  backups=services.list_backups(db, user.tenant_id),
                  restores=services.list_restores(db, user.tenant_id))


def _form(request: Request, user: ConsoleUser, engine: Engine, settings: Settings,
          backup_id: str, status_code: int = 200, **ctx: Any) -> Response:
    with session_scope(engine) as db:  # not SessionDep: async callers (see backups_api.py)
        backup = services.get_backup(db, user.tenant_id, backup_id)
    if backup is None or backup["status"] != "complete":
        deny(engine, user.caller, "backup", backup_id, via="console")
        raise ForeignPage(user)
    root = services.restores_root(settings)
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
        started = await services.start_restore(
            engine, settings, temporal, tenant_id=user.tenant_id, backup_id=backup_id,
            target=target.strip() or None, force=bool(force), actor=user.caller.actor)
    except ByokError as exc:
        error = {"field": "target" if exc.field == "target" else "_form",
                 "message": exc.message}
        return _form(request, user, engine, settings, backup_id, status_code=422, form=form,
                     error=error)
    return RedirectResponse(f"/t/{user.tenant_id}/restores/{started['restore_id']}",
                            status_code=303)


def _restore(db: SessionDep, user: ConsoleUser, restore_id: str) -> Any:
    row = services.get_restore(db, user.tenant_id, restore_id)
    if row is None:
        raise ForeignPage(user)
    return row


@router.get("/t/{tenant_id}/restores/{restore_id}", response_class=HTMLResponse)
def restore_page(request: Request, restore_id: str, user: PageUser,
                 db: SessionDep) -> Response:
    row = _restore(db, user, restore_id)
    return render(request, "restore.html", user=user, active="backups", restore=row,
                  backup=services.get_backup(db, user.tenant_id, row.backup_id))


@router.get("/t/{tenant_id}/restores/{restore_id}/progress", response_class=HTMLResponse)
def restore_progress(request: Request, restore_id: str, user: PageUser,
                     db: SessionDep) -> Response:
    row = _restore(db, user, restore_id)
    resp = render(request, "_restore_status.html", user=user, restore=row)
    resp.headers["X-Progress-State"] = {"complete": "done", "failed": "failed"}.get(
        row.status, "running")
    return resp
