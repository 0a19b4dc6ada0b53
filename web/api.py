"""JSON API under /api/v1 without an API key: the stack callback (authenticated by its token)
and the template download; the tenant API is web/tenant_api.py, the operator's
web/operator_api.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import PlainTextResponse

from byok import cfn
from byok.errors import NotFound
from control.enablement import deliver_callback
from web import schemas
from web.deps import EngineDep, LazyTemporalDep, SettingsDep
from web.ratelimit import per_client

E = schemas.ErrorOut
router = APIRouter()


@router.post("/wallets/_post-process", tags=["wallet"], response_model=schemas.CallbackOut,
             summary="The CloudFormation stack's callback, authenticated by its token",
             responses={401: {"model": E, "description": "Wrong, expired, used or voided "
                                                         "token, or the wrong account."},
                        409: {"model": E, "description": "ExternalId used by another tenant."},
                        422: {"model": E, "description": "A callback field is missing or bad."}},
             dependencies=[Depends(per_client("callback"))])
async def post_process(engine: EngineDep, temporal: LazyTemporalDep,
                       payload: dict[str, Any] = Body(...)) -> Any:
    return await deliver_callback(engine, temporal, payload)


@router.get("/templates/byok-v{version}.yaml", tags=["template"],
            summary="The tenant's CloudFormation template",
            responses={200: {"content": {"application/x-yaml": {}}, "description": "YAML"},
                       404: {"model": E, "description": "No such template version."},
                       422: {"model": E, "description": "The version is not a number."}})
def template(version: int, settings: SettingsDep) -> PlainTextResponse:
    if version not in (cfn.LEGACY_TEMPLATE_VERSION, cfn.CURRENT_TEMPLATE_VERSION):
        raise NotFound(f"no template version {version}", field="version")
    body = cfn.render_template(version, settings.service_role_arn, settings.callback_topic_arn)
    return PlainTextResponse(body, media_type="application/x-yaml")
