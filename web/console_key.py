"""Administration > Encryption Key: add your own key, deploy the stack, watch it to Enabled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from byok import cfn
from byok.errors import ByokError, InvalidInput
from byok.settings import Settings
from control.deploy_paths import for_issued
from control.enablement import start_enable
from control.wallet import wallet_status, wallet_view
from web import session as sess
from web.deps import EngineDep, LazyTemporalDep, SettingsDep
from web.pages import PageUser, render

router = APIRouter(include_in_schema=False)

STEPS = [("waiting_for_stack", "Waiting for the CloudFormation stack"),
         ("verifying_role", "Verifying the role"),
         ("verifying_key", "Verifying the key"),
         ("replicating", "Replicating the key"),
         ("enabled", "Enabled")]
# Tenant-managed replicas: the fourth step is the check of the tenant's own replicas.
TENANT_STEPS = {"checking_replicas", "waiting_for_replicas"}
FORM_FIELDS = ("account", "accept_irretrievable", "accept_immutable")


def progress_steps(wallet: dict[str, Any], primary_region: str) -> list[dict[str, str]]:
    """The panel's rows: done / active / failed / pending, from the wallet's progress log."""
    seen = [p.get("step") for p in wallet.get("progress") or []]
    tenant_made = bool(TENANT_STEPS & set(seen)) or wallet.get("replica_management") == "tenant"
    seen = ["replicating" if s in TENANT_STEPS else s for s in seen]
    names = [s for s, _ in STEPS]
    reached = max((names.index(s) for s in seen if s in names), default=0)
    if wallet["state"] == "Enabled":
        reached = len(STEPS) - 1
    others = [r for r in wallet.get("supported_regions") or [] if r != primary_region]
    rows = []
    for i, (step, label) in enumerate(STEPS):
        status = "done" if i < reached else "active" if i == reached else "pending"
        if wallet["state"] == "Enabled":
            status = "done"
        elif wallet["state"] == "Error" and i == reached:
            status = "failed"
        detail = ""
        if step == "waiting_for_stack" and "role_found" in seen and i == reached:
            detail = "the role exists; waiting for the stack to finish"
        elif step == "replicating" and tenant_made:
            label = "Checking your replicas"
            missing = sorted(wallet.get("key_errors") or {})
            detail = ("waiting for your replica in " + ", ".join(missing)) if missing and \
                wallet["state"] != "Enabled" else "in " + ", ".join(others)
        elif step == "replicating" and others:
            detail = "to " + ", ".join(others)
        rows.append({"label": label, "status": status, "detail": detail})
    return rows


MIGRATION_STEPS = [("checking_legacy_key", "Checking your current key"),
         ("waiting_for_stack", "Waiting for the stack update"),
         ("verifying_role", "Verifying the updated role"),
         ("verifying_key", "Verifying the new multi-region key"),
         ("replicating", "Replicating the new key"),
         ("enabled", "Upgraded")]


def migration(wallet: dict[str, Any]) -> dict[str, Any] | None:
    """The latest migration from the wallet's `migration:` progress steps, or None."""
    progress = wallet.get("progress") or []
    starts = [i for i, p in enumerate(progress) if p.get("step") == "migration:token_issued"]
    if not starts:
        return None
    seen = [str(p.get("step", "")).removeprefix("migration:") for p in progress[starts[-1]:]]
    names = [s for s, _ in MIGRATION_STEPS]
    reached = max((names.index(s) for s in seen if s in names), default=0)
    state = "done" if "enabled" in seen else "failed" if "failed" in seen else "running"
    rows = []
    for i, (step, label) in enumerate(MIGRATION_STEPS):
        status = "done" if i < reached or state == "done" else \
            "failed" if state == "failed" and i == reached else \
            "active" if i == reached else "pending"
        detail = ""
        if step == "waiting_for_stack" and status == "active" and "role_found" in seen:
            detail = "the updated role answers; waiting for the stack to finish"
        rows.append({"label": label, "status": status, "detail": detail})
    return {"state": state, "steps": rows, "error_code": wallet.get("error_code"),
            "error_message": wallet.get("error_message")}


def _page(request: Request, user: Any, settings: Settings, wallet: dict[str, Any], view: str,
          status_code: int = 200, **ctx: Any) -> Response:
    region = settings.control_plane_region
    return render(request, "encryption_key.html", status_code=status_code, user=user,
                  active="key", wallet=wallet, view=view, steps=progress_steps(wallet, region),
                  region=region, default_role=cfn.DEFAULT_ROLE_NAME, **ctx)


def key_page_response(request: Request, user: Any, engine: Engine, settings: Settings,
                      status_code: int = 200, **ctx: Any) -> Response:
    """The Encryption Key page for the wallet's state (with key health once enabled)."""
    wallet = wallet_view(engine, settings, user.tenant_id)
    view = {"Enabled": "enabled", "Waiting": "waiting", "Error": "error"}.get(
        wallet["state"], "setup")
    health = {r["region"]: r for r in wallet["health"]["regions"] if r["kind"] == "current"}
    return _page(request, user, settings, wallet, view, status_code=status_code,
                 region_health=health, migration=migration(wallet), **ctx)


@router.get("/t/{tenant_id}/encryption-key", response_class=HTMLResponse)
def key_page(request: Request, user: PageUser, engine: EngineDep,
             settings: SettingsDep) -> Response:
    return key_page_response(request, user, engine, settings)


@router.get("/t/{tenant_id}/encryption-key/new", response_class=HTMLResponse)
def key_form(request: Request, user: PageUser, engine: EngineDep,
             settings: SettingsDep) -> Response:
    wallet = wallet_status(engine, settings, user.tenant_id)
    return _page(request, user, settings, wallet, "form", form={}, errors={})


@router.post("/t/{tenant_id}/encryption-key/new", response_class=HTMLResponse)
async def key_create(request: Request, user: PageUser, engine: EngineDep,
                     settings: SettingsDep, temporal: LazyTemporalDep,
                     account: str = Form("", max_length=200),
                     accept_irretrievable: str = Form("", max_length=10),
                     accept_immutable: str = Form("", max_length=10),
                     csrf_token: str = Form("", max_length=200)) -> Response:
    irretrievable, immutable = bool(accept_irretrievable), bool(accept_immutable)
    form = {"account": account, "accept_irretrievable": irretrievable,
            "accept_immutable": immutable}
    if not sess.csrf_ok(sess.load(request, settings), csrf_token):
        wallet = wallet_status(engine, settings, user.tenant_id)
        return _page(request, user, settings, wallet, "form", status_code=403, form=form,
                     errors={"_form": "This form expired. Submit it again."})
    errors: dict[str, str] = {}
    try:
        issued = await start_enable(
            engine, settings, temporal, tenant=user.tenant_id, account=account,
            accept_irretrievable=irretrievable, accept_immutable=immutable,
            actor=user.caller.actor)
    except InvalidInput as exc:
        errors[exc.field if exc.field in FORM_FIELDS else "_form"] = exc.message
    except ByokError as exc:
        errors["_form"] = exc.message
    wallet = wallet_status(engine, settings, user.tenant_id)
    if errors:
        return _page(request, user, settings, wallet, "form", status_code=422, form=form,
                     errors=errors)
    public = issued.public()
    return _page(request, user, settings, wallet, "issued", status_code=201, issued=public,
                 paths=for_issued(engine, settings, public))


@router.get("/t/{tenant_id}/encryption-key/progress", response_class=HTMLResponse)
def key_progress(request: Request, user: PageUser, engine: EngineDep,
                 settings: SettingsDep) -> Response:
    wallet = wallet_status(engine, settings, user.tenant_id)
    resp = render(request, "_progress.html", user=user, wallet=wallet,
                  steps=progress_steps(wallet, settings.control_plane_region))
    resp.headers["X-Wallet-State"] = wallet["state"]
    return resp
