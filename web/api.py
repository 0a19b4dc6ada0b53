"""JSON API under /api/v1 without an API key: the stack callback (authenticated by its token)
and the template download; the tenant API is web/tenant_api.py, the operator's
web/operator_api.py."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import PlainTextResponse, Response

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


# Before the versioned route, whose path would take this name too.
@router.get("/templates/byok-v2-replicas.yaml", tags=["template"],
            summary="The StackSet template of tenant-managed replicas",
            responses={200: {"content": {"application/x-yaml": {}}, "description": "YAML"}})
def replicas_template() -> PlainTextResponse:
    return PlainTextResponse(cfn.replicas_template_text(), media_type="application/x-yaml")


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


TERRAFORM_MODULE = Path(__file__).resolve().parents[1] / "terraform" / "byok-vault"


@router.get("/terraform/byok-vault.zip", tags=["template"],
            summary="The tenant's Terraform module (terraform/byok-vault), as a module source",
            responses={200: {"content": {"application/zip": {}}, "description": "zip"},
                       404: {"model": E, "description": "Not served by this installation."}})
def terraform_module() -> Response:
    if not (TERRAFORM_MODULE / "main.tf").is_file():  # an install without the source tree
        raise NotFound("this installation does not serve the Terraform module; set "
                       "BYOK_TERRAFORM_MODULE_SOURCE to where you keep it", field="module")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(TERRAFORM_MODULE.rglob("*")):
            if path.is_file() and path.suffix in (".tf", ".yaml"):
                # A fixed date: the same module always gives the same bytes.
                info = zipfile.ZipInfo(str(path.relative_to(TERRAFORM_MODULE)),
                                       date_time=(2020, 1, 1, 0, 0, 0))
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return Response(buf.getvalue(), media_type="application/zip")
