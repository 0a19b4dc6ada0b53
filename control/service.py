"""Provision the service's own AWS resources (idempotent): its role, the stack-callback
topic and queue, the vault bucket and the default KMS key of each region."""

from __future__ import annotations

import json
from collections.abc import Iterable

from botocore.exceptions import ClientError

from byok import service_policy
from byok.aws import AwsClients, error_code
from byok.default_key import ensure_default_key
from byok.settings import Settings


def ensure_service_resources(aws: AwsClients, settings: Settings,
                             regions: Iterable[str] = ()) -> None:
    _ensure_role(aws, settings)
    _ensure_callback_queue(aws, settings)
    _ensure_bucket(aws, settings)
    from control.templates import publish_templates

    publish_templates(aws.base("s3"), settings)
    for region in {settings.control_plane_region, *regions}:
        ensure_default_key(aws, settings, region)


def _ensure_role(aws: AwsClients, settings: Settings) -> None:
    iam = aws.base("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:{settings.partition}:iam::{settings.service_account_id}:root"}}]}
    try:
        iam.get_role(RoleName=settings.service_role_name)
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        iam.create_role(RoleName=settings.service_role_name,
                        AssumeRolePolicyDocument=json.dumps(trust),
                        Description="byok-vault control plane")
    document = service_policy.service_role_policy(
        account_id=settings.service_account_id, region=settings.control_plane_region,
        queue_name=settings.callback_queue_name, vault_bucket=settings.vault_bucket)
    iam.put_role_policy(RoleName=settings.service_role_name, PolicyName="ByokVaultService",
                        PolicyDocument=json.dumps(document))


def _ensure_callback_queue(aws: AwsClients, settings: Settings) -> None:
    """Tenants' stacks publish custom-resource requests to the topic; SNS delivers them to the
    queue the consumer long-polls; a request received callback_max_receive_count times goes
    to the dead-letter queue."""
    from control.callback_resources import ensure_callback_queue

    ensure_callback_queue(aws.base("sns"), aws.base("sqs"), settings)


def _ensure_bucket(aws: AwsClients, settings: Settings) -> None:
    s3 = aws.base("s3")
    try:
        s3.head_bucket(Bucket=settings.vault_bucket)
    except ClientError:
        s3.create_bucket(Bucket=settings.vault_bucket)
