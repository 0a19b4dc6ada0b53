"""JSON API under /api/v1: the stack callback and the template (the tenant API is in
web/tenant_api.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import PlainTextResponse

from byok import cfn
from byok.errors import NotFound
from starter import actions
from web.deps import EngineDep, SettingsDep, TemporalDep

router = APIRouter()


@router.post("/wallets/_post-process", tags=["wallet"],
             summary="The CloudFormation stack's callback, authenticated by its token")
async def post_process(engine: EngineDep, client: TemporalDep,
                       payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return await actions.deliver_callback(client, engine, payload)


@router.get("/templates/byok-v{version}.yaml", tags=["template"],
            response_class=PlainTextResponse, summary="The tenant's CloudFormation template")
def template(version: int, settings: SettingsDep) -> PlainTextResponse:
    if version not in (cfn.LEGACY_TEMPLATE_VERSION, cfn.CURRENT_TEMPLATE_VERSION):
        raise NotFound(f"no template version {version}", field="version")
    body = cfn.render_template(version, settings.service_role_arn, settings.callback_topic_arn)
    return PlainTextResponse(body, media_type="application/x-yaml")
