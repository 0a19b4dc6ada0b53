"""Console: Administration > AWS accounts — the tenant's connections (pending, verified,
failed) and a form to connect an account, answered with the connection stack to deploy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from byok.errors import ByokError
from control import connections
from web import session as sess
from web.deps import EngineDep, SettingsDep
from web.pages import ConsoleUser, PageUser, render

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: ConsoleUser, engine: EngineDep, settings: SettingsDep, *,
          status_code: int = 200, **ctx: Any) -> Response:
    ctx.setdefault("issued", None)
    ctx.setdefault("error", None)
    ctx.setdefault("form", {"account_id": "", "regions": settings.control_plane_region})
    return render(request, "connections.html", status_code=status_code, user=user,
                  active="accounts",
                  rows=connections.list_connections(engine, settings, user.tenant_id), **ctx)


@router.get("/t/{tenant_id}/connections", response_class=HTMLResponse)
def connections_page(request: Request, user: PageUser, engine: EngineDep,
                     settings: SettingsDep) -> Response:
    return _page(request, user, engine, settings)


@router.post("/t/{tenant_id}/connections", response_class=HTMLResponse)
def connections_add(request: Request, user: PageUser, engine: EngineDep, settings: SettingsDep,
                    account_id: str = Form("", max_length=64),
                    regions: str = Form("", max_length=1000),
                    csrf_token: str = Form("", max_length=200)) -> Response:
    form = {"account_id": account_id, "regions": regions}
    if not sess.csrf_ok(sess.load(request, settings), csrf_token):
        return _page(request, user, engine, settings, status_code=403, form=form,
                     error={"field": "_form", "message": "This form expired. Submit it again."})
    try:
        issued = connections.connect_account(
            engine, settings, tenant=user.tenant_id, account_id=account_id,
            regions=[r for r in regions.replace(" ", ",").split(",") if r],
            actor=user.caller.actor)
    except ByokError as exc:
        return _page(request, user, engine, settings, status_code=422, form=form,
                     error={"field": exc.field or "_form", "message": exc.message})
    # Rendered, not redirected: the token is shown on this page only.
    return _page(request, user, engine, settings, issued=issued)
