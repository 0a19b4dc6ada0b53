"""Console plumbing: templates, the signed-in user, tenant-scoped page access, refusals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from byok import apikeys, console_sessions
from byok.db import session_scope
from byok.models import Tenant
from web import session as sess
from web.auth import Caller, deny
from web.deps import EngineDep, SettingsDep

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass
class ConsoleUser:
    tenant_id: str
    tenant_name: str
    key_id: str
    csrf: str

    @property
    def caller(self) -> Caller:
        return Caller(self.tenant_id, self.key_id)


class SignInRequired(Exception):
    """No session, an expired one, or its key was revoked since sign-in."""


class ForeignPage(Exception):
    """A console URL naming another tenant (or none that exists)."""

    def __init__(self, user: ConsoleUser):
        self.user = user


def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    resp = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    resp.headers["Cache-Control"] = "no-store"  # pages may hold a one-time token
    return resp


def current_user(request: Request, engine: EngineDep, settings: SettingsDep) -> ConsoleUser:
    session = sess.load(request, settings)
    if not session.signed_in:
        raise SignInRequired()
    with session_scope(engine) as db:
        key = apikeys.get_active(db, session.key_id or "")
        tenant = db.get(Tenant, session.tenant_id)
        if key is None or tenant is None or key.tenant_id != tenant.id:
            raise SignInRequired()
        if not console_sessions.valid(db, session.sid, tenant_id=tenant.id, key_id=key.id):
            raise SignInRequired()  # signed out (or never signed in) server-side
        return ConsoleUser(tenant.id, tenant.name, key.id, session.csrf)


UserDep = Annotated[ConsoleUser, Depends(current_user)]


def page_user(tenant_id: str, user: UserDep, engine: EngineDep) -> ConsoleUser:
    """The user, if the page's tenant is theirs; else audited in their chain and refused."""
    if tenant_id != user.tenant_id:
        deny(engine, user.caller, "tenant", tenant_id, via="console")
        raise ForeignPage(user)
    return user


PageUser = Annotated[ConsoleUser, Depends(page_user)]


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def to_signin(request: Request, _exc: SignInRequired) -> Response:
        if request.headers.get("x-console-poll"):
            return Response(status_code=401)  # the poller then sends the browser to sign in
        resp = RedirectResponse("/signin", status_code=303)
        sess.clear(resp, request.app.state.settings)
        return resp

    @app.exception_handler(ForeignPage)
    async def foreign(request: Request, exc: ForeignPage) -> Response:
        return render(request, "not_found.html", status_code=404, user=exc.user)
