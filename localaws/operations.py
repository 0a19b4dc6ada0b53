"""Each AWS operation localaws serves -> the IAM action it needs and the ARN of its resource.

A table per service, for the operations the product and its tests use. An operation missing from
its table is refused (LocalAwsUnsupported), never silently allowed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from .denial import LocalAwsError


@dataclass
class Request:
    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account: str  # the caller's
    partition: str = "aws"
    path: str = "/"
    method: str = "GET"
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def arn(self, service: str, resource: str, region: str | None = None,
            account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


# Resource kinds, resolved in resource(): "*" | "kms-key" | "iam:role/{RoleName}" (templates).
IAM = {
    **{op: "role/{RoleName}" for op in (
        "GetRole", "CreateRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy",
        "DeleteRolePolicy", "ListRolePolicies", "AttachRolePolicy", "DetachRolePolicy",
        "ListAttachedRolePolicies", "UpdateAssumeRolePolicy", "TagRole", "UntagRole",
        "UpdateRole", "ListRoleTags")},
    **{op: "user/{UserName}" for op in (
        "CreateUser", "GetUser", "DeleteUser", "CreateAccessKey", "DeleteAccessKey",
        "ListAccessKeys", "PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy",
        "AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies", "ListUserPolicies",
        "AddUserToGroup", "UpdateAccessKey")},
    **{op: "{PolicyArn}" for op in (
        "GetPolicy", "DeletePolicy", "GetPolicyVersion", "CreatePolicyVersion",
        "ListPolicyVersions", "DeletePolicyVersion", "SetDefaultPolicyVersion")},
    **{op: "group/{GroupName}" for op in ("CreateGroup", "PutGroupPolicy", "AttachGroupPolicy")},
    "CreatePolicy": "policy/{PolicyName}",
    **{op: "*" for op in ("ListRoles", "ListUsers", "ListPolicies", "ListGroups",
                          "GetAccountSummary")},
}
KMS = {
    **{op: "kms-key" for op in (
        "DescribeKey", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
        "Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "PutKeyPolicy", "GetKeyPolicy", "ListKeyPolicies", "TagResource",
        "UntagResource", "ListResourceTags", "EnableKeyRotation", "DisableKeyRotation",
        "GetKeyRotationStatus", "UpdateKeyDescription", "UpdatePrimaryRegion", "Sign", "Verify",
        "GetPublicKey", "ReEncrypt", "ReplicateKey", "CreateAlias", "UpdateAlias",
        "DeleteAlias", "ListGrants", "CreateGrant", "RevokeGrant", "RotateKeyOnDemand",
        "ListKeyRotations")},
    **{op: "*" for op in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom")},
}
STS = {"AssumeRole": "{RoleArn}", "GetSessionToken": "*"}
SNS = {
    **{op: "{TopicArn}" for op in (
        "Subscribe", "ListSubscriptionsByTopic", "GetTopicAttributes", "SetTopicAttributes",
        "DeleteTopic", "AddPermission", "RemovePermission", "Publish")},
    "CreateTopic": "sns:{Name}",
    **{op: "sns-subscription" for op in (
        "Unsubscribe", "GetSubscriptionAttributes", "SetSubscriptionAttributes")},
    "ConfirmSubscription": "{TopicArn}",
    **{op: "{ResourceArn}" for op in ("TagResource", "UntagResource", "ListTagsForResource")},
    **{op: "*" for op in ("ListTopics", "ListSubscriptions")},
}
SQS = {
    **{op: "sqs-queue" for op in (
        "GetQueueUrl", "GetQueueAttributes", "SetQueueAttributes", "SendMessage",
        "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
        "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "PurgeQueue", "DeleteQueue",
        "CreateQueue", "TagQueue", "ListQueueTags")},
    "ListQueues": "*",
}
CLOUDFORMATION = {
    **{op: "cfn-stack" for op in (
        "CreateStack", "UpdateStack", "DeleteStack", "DescribeStacks", "DescribeStackEvents",
        "DescribeStackResources", "DescribeStackResource", "ListStackResources", "GetTemplate",
        "GetTemplateSummary")},
    **{op: "*" for op in ("ListStacks", "ValidateTemplate", "DescribeStackSet", "ListStackSets")},
    **{op: "cloudformation:stackset/{StackSetName}:*" for op in (
        "CreateStackSet", "UpdateStackSet", "DeleteStackSet", "CreateStackInstances",
        "DeleteStackInstances", "ListStackInstances", "DescribeStackInstance",
        "DescribeStackSetOperation", "ListStackSetOperations")},
}
DYNAMODB = {
    **{op: "dynamodb:table/{TableName}" for op in (
        "CreateTable", "DeleteTable", "DescribeTable", "PutItem", "GetItem", "UpdateItem",
        "DeleteItem", "Scan", "Query")},
    **{op: "dynamodb-batch" for op in ("BatchWriteItem", "BatchGetItem")},
    "ListTables": "*",
}
TABLES: dict[str, dict[str, str]] = {
    "iam": IAM, "kms": KMS, "sts": STS, "sns": SNS, "sqs": SQS,
    "cloudformation": CLOUDFORMATION, "dynamodb": DYNAMODB,
}

_EBS = [
    ("POST", re.compile(r"/snapshots"), "StartSnapshot"),
    ("PUT", re.compile(r"/snapshots/([^/]+)/blocks/\d+"), "PutSnapshotBlock"),
    ("POST", re.compile(r"/snapshots/completion/([^/]+)"), "CompleteSnapshot"),
    ("GET", re.compile(r"/snapshots/([^/]+)/blocks"), "ListSnapshotBlocks"),
    ("GET", re.compile(r"/snapshots/([^/]+)/blocks/\d+"), "GetSnapshotBlock"),
    ("GET", re.compile(r"/snapshots/([^/]+)/changedblocks"), "ListChangedBlocks"),
]


def unsupported(service: str, operation: str) -> LocalAwsError:
    return LocalAwsError(f"localaws has no IAM action mapping for {service}:{operation or '?'}; "
                         "add it to localaws/operations.py", "LocalAwsUnsupported", 400)


def _fill(template: str, req: Request) -> str:
    def value(match: re.Match[str]) -> str:
        found = req.params.get(match.group(1))
        if not found:
            raise LocalAwsError(f"{match.group(1)} is required", "ValidationError", 400)
        return str(found)
    return re.sub(r"\{(\w+)\}", value, template)


def action_and_resource(req: Request) -> tuple[str, str]:
    """(IAM action, resource ARN or a kind the authorizer resolves: 'kms-key')."""
    if req.service == "s3":
        return _s3(req)
    if req.service == "ebs":
        return _ebs(req)
    table = TABLES.get(req.service)
    if table is None or req.operation not in table:
        raise unsupported(req.service, req.operation)
    kind = table[req.operation]
    action = f"{req.service}:{req.operation}"
    if kind in ("*", "kms-key"):
        return action, kind
    if req.service == "iam":
        filled = _fill(kind, req)
        return action, filled if filled.startswith("arn:") else \
            f"arn:{req.partition}:iam::{req.account}:{filled}"
    if kind == "sns-subscription":
        return action, str(req.params.get("SubscriptionArn", "")).rsplit(":", 1)[0]
    if kind == "sqs-queue":
        return action, _queue_arn(req)
    if kind == "cfn-stack":
        name = str(req.params.get("StackName", ""))
        if not name and req.operation == "DescribeStacks":
            return action, "*"
        return action, name if name.startswith("arn:") else \
            req.arn("cloudformation", f"stack/{name}/*")
    if kind == "dynamodb-batch":
        tables = list((req.params.get("RequestItems") or {}).keys()) or ["*"]
        return action, req.arn("dynamodb", f"table/{tables[0]}")
    if ":" in kind and not kind.startswith("{"):
        service, _, resource = kind.partition(":")
        return action, req.arn(service, _fill(resource, req))
    return action, _fill(kind, req)


def _queue_arn(req: Request) -> str:
    url = req.params.get("QueueUrl")
    if url:
        parts = urlsplit(str(url)).path.strip("/").split("/")
        if len(parts) == 2:
            return req.arn("sqs", parts[1], account=parts[0])
    return req.arn("sqs", str(req.params.get("QueueName", "")))


def _ebs(req: Request) -> tuple[str, str]:
    for method, pattern, operation in _EBS:
        match = pattern.fullmatch(req.path.rstrip("/"))
        if match and method == req.method:
            snapshot = match.group(1) if match.groups() else "*"
            return f"ebs:{operation}", f"arn:{req.partition}:ec2:{req.region}::snapshot/{snapshot}"
    raise unsupported("ebs", f"{req.method} {req.path}")


def _s3(req: Request) -> tuple[str, str]:
    bucket, _, key = unquote(req.path.lstrip("/")).partition("/")
    q, method = req.query, req.method
    if not bucket:
        if method == "GET":
            return "s3:ListAllMyBuckets", "*"
        raise unsupported("s3", f"{method} /")
    bucket_arn = f"arn:{req.partition}:s3:::{bucket}"
    if not key:
        sub = {"policy": "BucketPolicy", "versioning": "BucketVersioning",
               "tagging": "BucketTagging", "publicAccessBlock": "BucketPublicAccessBlock",
               "encryption": "EncryptionConfiguration", "location": "BucketLocation",
               "acl": "BucketAcl", "lifecycle": "LifecycleConfiguration"}
        named = next((v for k, v in sub.items() if k in q), None)
        if method in ("PUT", "GET") and named:
            return f"s3:{'Put' if method == 'PUT' else 'Get'}{named}", bucket_arn
        if method == "DELETE" and named:
            return f"s3:{'DeleteBucketPolicy' if named == 'BucketPolicy' else 'Put' + named}", \
                bucket_arn
        if method == "PUT":
            return "s3:CreateBucket", bucket_arn
        if method == "DELETE":
            return "s3:DeleteBucket", bucket_arn
        if method in ("GET", "HEAD"):
            if "uploads" in q:
                return "s3:ListBucketMultipartUploads", bucket_arn
            if "versions" in q:
                return "s3:ListBucketVersions", bucket_arn
            return "s3:ListBucket", bucket_arn
        if method == "POST" and "delete" in q:
            return "s3:DeleteObject", f"{bucket_arn}/*"
        raise unsupported("s3", f"{method} /{bucket}")
    object_arn = f"{bucket_arn}/{key}"
    if method == "PUT":
        if "tagging" in q:
            return "s3:PutObjectTagging", object_arn
        return "s3:PutObject", object_arn  # PutObject, UploadPart, CopyObject's target
    if method in ("GET", "HEAD"):
        if "uploadId" in q:
            return "s3:ListMultipartUploadParts", object_arn
        if "tagging" in q:
            return "s3:GetObjectTagging", object_arn
        return "s3:GetObject", object_arn
    if method == "DELETE":
        return ("s3:AbortMultipartUpload" if "uploadId" in q else "s3:DeleteObject"), object_arn
    if method == "POST" and ("uploads" in q or "uploadId" in q):
        return "s3:PutObject", object_arn
    raise unsupported("s3", f"{method} /{bucket}/{key}")
