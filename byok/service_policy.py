"""Least-privilege policy documents of the service's own account: its role, topic and queue."""

from __future__ import annotations

from typing import Any

VERSION = "2012-10-17"
# Tenants' roles are found by name: the tenant templates create them as ByokVault*.
TENANT_ROLE_PATTERN = "ByokVault*"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def service_role_policy(*, account_id: str, region: str, queue_name: str,
                        vault_bucket: str) -> dict[str, Any]:
    """What the service role does, and nothing more: assume tenants' byok roles, read the
    stack-callback queue, keep backups in the vault bucket, use its own default keys."""
    p = partition_of(region)
    bucket = f"arn:{p}:s3:::{vault_bucket}"
    return {"Version": VERSION, "Statement": [
        {"Sid": "AssumeTenantRoles", "Effect": "Allow", "Action": "sts:AssumeRole",
         "Resource": f"arn:{p}:iam::*:role/{TENANT_ROLE_PATTERN}"},
        {"Sid": "ReadStackCallbacks", "Effect": "Allow",
         "Action": ["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility"],
         "Resource": f"arn:{p}:sqs:{region}:{account_id}:{queue_name}"},
        {"Sid": "KeepBackups", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                    "s3:AbortMultipartUpload"],
         "Resource": f"{bucket}/*"},
        {"Sid": "FindUnfinishedUploads", "Effect": "Allow",
         "Action": "s3:ListBucketMultipartUploads", "Resource": bucket},
        {"Sid": "UseDefaultKeys", "Effect": "Allow",
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": f"arn:{p}:kms:*:{account_id}:key/*"},
    ]}


def topic_policy(topic_arn: str) -> dict[str, Any]:
    """Any account's stack may publish its custom resource's request; nothing else."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "TenantStacksPublish", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": "sns:Publish", "Resource": topic_arn}]}


def queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """Only the callback topic delivers to the queue."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "CallbackTopicDelivers", "Effect": "Allow",
         "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
