"""Where each tenant template version is published on S3: a content-addressed key, so a
published URL always serves exactly the text it was published with."""

from __future__ import annotations

import hashlib

from byok import cfn
from byok.settings import Settings


def rendered(settings: Settings, version: int) -> str:
    return cfn.render_template(version, settings.service_role_arn, settings.callback_topic_arn)


def key(settings: Settings, version: int) -> str:
    digest = hashlib.sha256(rendered(settings, version).encode()).hexdigest()[:16]
    return f"{settings.template_prefix}byok-v{version}-{digest}.yaml"


def url(settings: Settings, version: int = cfn.CURRENT_TEMPLATE_VERSION) -> str:
    """The TemplateURL the tenant's CloudFormation reads (quick-create link, manual deploy)."""
    return object_url(settings, key(settings, version))


def replicas_key(settings: Settings) -> str:
    digest = hashlib.sha256(cfn.replicas_template_text().encode()).hexdigest()[:16]
    return f"{settings.template_prefix}byok-v2-replicas-{digest}.yaml"


def object_url(settings: Settings, name: str) -> str:
    """The S3 URL of a published object in the template bucket."""
    bucket = settings.template_bucket
    if settings.aws_endpoint_url:  # localaws serves S3 path-style on its own endpoint
        return f"{settings.aws_endpoint_url.rstrip('/')}/{bucket}/{name}"
    suffix = ".amazonaws.com.cn" if settings.control_plane_region.startswith("cn-") \
        else ".amazonaws.com"
    return f"https://{bucket}.s3.{settings.control_plane_region}{suffix}/{name}"


def replicas_url(settings: Settings) -> str:
    """The TemplateURL of the StackSet that creates tenant-managed replicas."""
    return object_url(settings, replicas_key(settings))
