"""Publish the tenant templates to the template bucket (idempotent: keys are content hashes)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from byok import cfn, template_store
from byok.settings import Settings


def bucket_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Any AWS principal may read the published templates, and nothing else: CloudFormation
    reads a TemplateURL with the tenant's own credentials."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TenantsReadPublishedTemplates", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}]}


def _ensure_bucket(s3: Any, settings: Settings) -> None:
    bucket = settings.template_bucket
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        extra = {} if settings.control_plane_region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": settings.control_plane_region}}
        s3.create_bucket(Bucket=bucket, **extra)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    policy = bucket_policy(bucket, settings.template_prefix)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def publish_templates(s3: Any, settings: Settings) -> dict[int, str]:
    """Upload every template version; returns version -> TemplateURL."""
    _ensure_bucket(s3, settings)
    out = {}
    for version in cfn.TEMPLATE_VERSIONS:
        s3.put_object(Bucket=settings.template_bucket, Key=template_store.key(settings, version),
                      Body=template_store.rendered(settings, version).encode(),
                      ContentType="application/x-yaml")
        out[version] = template_store.url(settings, version)
    s3.put_object(Bucket=settings.template_bucket, Key=template_store.replicas_key(settings),
                  Body=cfn.replicas_template_text().encode(), ContentType="application/x-yaml")
    return out
