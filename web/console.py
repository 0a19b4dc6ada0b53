"""Console pages: sign-in and sign-out, Key health (with Check now), Audit and API keys."""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from byok import audit, console_sessions
from byok.db import session_scope
from byok.errors import Unauthorized
from control import tenants
from control.checks import refresh_wallet
from control.wallet import wallet_view
from web import session as sess
from web.auth import auth_failed, auth_gate, caller_from_key
from web.deps import EngineDep, LazyTemporalDep, SettingsDep
from web.pages import PageUser, render
from web.ratelimit import client_of, limiter_of

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, settings: SettingsDep) -> Response:
    session = sess.load(request, settings)
    target = f"/t/{session.tenant_id}/encryption-key" if session.signed_in else "/signin"
    return RedirectResponse(target, status_code=303)


@router.get("/signin")
def signin_page(request: Request, settings: SettingsDep) -> Response:
    session = sess.load(request, settings)
    resp = render(request, "signin.html", csrf=session.csrf, error=None)
    if session.fresh:
        sess.save(resp, settings, session)
    return resp


@router.post("/signin")
def signin(request: Request, settings: SettingsDep, engine: EngineDep,
           api_key: str = Form(""), csrf_token: str = Form("")) -> Response:
    session = sess.load(request, settings)
    if not sess.csrf_ok(session, csrf_token):
        return _csrf_refused(request, settings)
    limiter_of(request).check("signin", client_of(request))
    auth_gate(request)
    try:
        caller = caller_from_key(engine, api_key.strip())
    except Unauthorized:
        auth_failed(request, engine, "console_signin")
        # The typed key is deliberately not echoed back: it is a secret.
        return render(request, "signin.html", status_code=401, csrf=session.csrf,
                      error="That API key is unknown or was revoked. Check it and try again.")
    with session_scope(engine) as db:
        audit.append(db, tenant_id=caller.tenant_id, actor=caller.actor,
                     action="console.signed_in", details={"key_id": caller.key_id})
        sid = console_sessions.start(db, tenant_id=caller.tenant_id, key_id=caller.key_id,
                                     max_age=sess.MAX_AGE)
    redirect = RedirectResponse(f"/t/{caller.tenant_id}/encryption-key", status_code=303)
    sess.save(redirect, settings, sess.signed_in(caller.tenant_id, caller.key_id, sid))
    return redirect


@router.post("/signout")
def signout(request: Request, settings: SettingsDep, engine: EngineDep,
            csrf_token: str = Form("")) -> Response:
    session = sess.load(request, settings)
    if not sess.csrf_ok(session, csrf_token):
        return _csrf_refused(request, settings)
    with session_scope(engine) as db:  # server-side: every copy of the cookie dies with it
        console_sessions.end(db, session.sid)
    resp = RedirectResponse("/signin", status_code=303)
    sess.clear(resp, settings)
    return resp


def _csrf_refused(request: Request, settings: SettingsDep) -> Response:
    session = sess.load(request, settings)
    resp = render(request, "message.html", status_code=403, title="Form expired",
                  message="This form was out of date or did not come from this console. "
                          "Go back, reload the page and try again.", user=None)
    if session.fresh:
        sess.save(resp, settings, session)
    return resp


@router.get("/t/{tenant_id}/health", response_class=HTMLResponse)
def health_page(request: Request, user: PageUser, engine: EngineDep, settings: SettingsDep,
                checked: str = Query("", max_length=10)) -> Response:
    wallet = wallet_view(engine, settings, user.tenant_id)
    return render(request, "health.html", user=user, active="health", wallet=wallet,
                  health=wallet["health"], checked=checked)


@router.post("/t/{tenant_id}/health/check", response_class=HTMLResponse)
async def health_check(request: Request, user: PageUser, engine: EngineDep,
                       settings: SettingsDep, temporal: LazyTemporalDep,
                       csrf_token: str = Form("", max_length=200)) -> Response:
    if not sess.csrf_ok(sess.load(request, settings), csrf_token):
        return _csrf_refused(request, settings)
    limiter_of(request).check("check", user.tenant_id)
    wallet = await refresh_wallet(engine, settings, temporal, user.tenant_id,
                                           requested_by="console")
    check = wallet["health"]["check"]
    flag = "none" if check is None else "yes" if check["checked"] else "late"
    # Post/redirect/get: a reload of the result page does not run another check.
    return RedirectResponse(f"/t/{user.tenant_id}/health?checked={flag}", status_code=303)


@router.get("/t/{tenant_id}/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: PageUser, engine: EngineDep) -> Response:
    events = tenants.audit_history(engine, user.tenant_id)
    return render(request, "audit.html", user=user, active="audit",
                  events=list(reversed(events)),
                  report=tenants.audit_verify(engine, user.tenant_id))


@router.get("/t/{tenant_id}/api-keys", response_class=HTMLResponse)
def keys_page(request: Request, user: PageUser, engine: EngineDep) -> Response:
    return render(request, "api_keys.html", user=user, active="keys",
                  keys=tenants.list_api_keys(engine, user.tenant_id))
