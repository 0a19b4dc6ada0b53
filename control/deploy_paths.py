"""The three deploy paths for an issued token, with the account's connected regions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from byok import crud, deploy_paths
from byok.db import session_scope
from byok.settings import Settings


def for_issued(engine: Engine, settings: Settings, issued: dict[str, Any]) -> dict[str, Any]:
    """`issued` is Issued.public(): quick-create, manual CloudFormation and Terraform."""
    with session_scope(engine) as session:
        regions = crud.connected_regions(session, tenant_id=issued["tenant_id"],
                                         account_id=issued["account_native_id"])
    home = settings.control_plane_region
    ordered = [home, *sorted(r for r in regions if r != home)]
    return deploy_paths.paths(settings, issued, ordered)
