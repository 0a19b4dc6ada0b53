"""Publish the tenant templates to the template bucket (idempotent: keys are content hashes)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from byok import cfn, connection_template, template_store
from byok.errors import AwsError
from byok.settings import Settings


def publish_templates(s3: Any, settings: Settings) -> dict[int, str]:
    """Upload every template version; returns version -> TemplateURL. The bucket and its
    policy are the service stack's (service.yaml): deploy it first."""
    try:
        s3.head_bucket(Bucket=settings.template_bucket)
    except ClientError:
        raise AwsError(f"template bucket {settings.template_bucket} (BYOK_TEMPLATE_BUCKET) "
                       "is not there or not readable: run `byok service deploy` first",
                       code="TEMPLATE_BUCKET_MISSING") from None
    out = {}
    for version in cfn.TEMPLATE_VERSIONS:
        s3.put_object(Bucket=settings.template_bucket, Key=template_store.key(settings, version),
                      Body=template_store.rendered(settings, version).encode(),
                      ContentType="application/x-yaml")
        out[version] = template_store.url(settings, version)
    s3.put_object(Bucket=settings.template_bucket, Key=connection_template.key(settings),
                  Body=connection_template.rendered(settings).encode(),
                  ContentType="application/x-yaml")
    s3.put_object(Bucket=settings.template_bucket, Key=template_store.replicas_key(settings),
                  Body=cfn.replicas_template_text().encode(), ContentType="application/x-yaml")
    return out
