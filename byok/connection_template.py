"""The connection template (byok-connection.yaml): its text, where it is published, and the
names and links the service issues for one tenant's connection."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources
from typing import Any

from byok import cfn, template_store
from byok.settings import Settings

CONNECTION_TEMPLATE_VERSION = 1
KIND = "connection"  # the custom resource's `kind`: routes its request away from enablement
ROLE_NAME_PREFIX = "ByokVaultConnection-"  # inside the service role's ByokVault* pattern
# The template's RoleName AllowedPattern, verbatim (a test compares them).
ROLE_NAME_PATTERN = re.compile(r"^ByokVault[A-Za-z0-9_+=,.@-]+$")


@cache
def template_text() -> str:
    return resources.files("byok").joinpath("templates", "byok-connection.yaml").read_text(
        encoding="utf-8")


def load_template() -> dict[str, Any]:
    return cfn.parse_template(template_text())


def rendered(settings: Settings) -> str:
    return cfn.render_text(template_text(), "connection", settings.service_role_arn,
                           settings.callback_topic_arn)


def key(settings: Settings) -> str:
    digest = hashlib.sha256(rendered(settings).encode()).hexdigest()[:16]
    return f"{settings.template_prefix}byok-connection-v{CONNECTION_TEMPLATE_VERSION}-{digest}.yaml"


def url(settings: Settings) -> str:
    """The published TemplateURL, beside the tenant templates (same bucket and rules)."""
    return template_store.object_url(settings, key(settings))


def role_name_for(tenant_id: str) -> str:
    """One role per tenant and account: two tenants connecting one account never share it."""
    name = ROLE_NAME_PREFIX + re.sub(r"[^A-Za-z0-9_+=,.@-]", "-", tenant_id)
    return name[:cfn.ROLE_NAME_MAX_LENGTH]


def stack_name_for(tenant_id: str) -> str:
    return cfn.stack_name_for(tenant_id).replace(cfn.STACK_NAME_PREFIX, "byok-vault-connect-", 1)


def deployment_url(settings: Settings, *, tenant_id: str, role_name: str, external_id: str,
                   token: str) -> str:
    return cfn.quick_create_url(region=settings.control_plane_region, template_url=url(settings),
                                stack_name=stack_name_for(tenant_id), parameters={
                                    "RoleName": role_name, "ExternalId": external_id,
                                    "VaultToken": token})
