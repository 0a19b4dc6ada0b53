"""Requests that carry no signature. AWS refuses them (MissingAuthenticationToken, in each
service's shape) - except S3, which serves them as the anonymous principal: only a bucket policy
that grants "*" or an ACL grant to AllUsers lets one through."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from .accounts import Caller
from .authz import Check
from .denial import LocalAwsError
from .operations import Request

ANONYMOUS = Caller(account="", arn="anonymous")

# X-Amz-Target prefix / query-protocol Version -> the service an unsigned request is meant for.
_TARGETS = {"TrentService": "kms", "DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}
_VERSIONS = {"2011-06-15": "sts", "2010-05-08": "iam", "2010-03-31": "sns", "2012-11-05": "sqs",
             "2010-05-15": "cloudformation"}
# STS serves these unsigned on AWS (the token in the request is the credential).
_UNSIGNED_OPERATIONS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}

_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
# IAM action -> (ACL of the object or of the bucket, the ACL permission that grants it).
_ACL_GRANTS = {
    "s3:GetObject": ("object", "READ"),
    "s3:ListBucket": ("bucket", "READ"),
    "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:PutObject": ("bucket", "WRITE"),
    "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"),
    "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
}


def service_of(environ: dict[str, Any], body: bytes) -> tuple[str, str]:
    """(service, operation) an unsigned request is meant for; ("s3", "") for S3's REST API, the
    only protocol without an X-Amz-Target header or an Action parameter."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        prefix, _, operation = target.partition(".")
        return _TARGETS.get(prefix, "json"), operation
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    if "Action" in params:
        return _VERSIONS.get(params.get("Version", ""), "query"), params["Action"]
    return "s3", ""


def refusal(environ: dict[str, Any], service: str, operation: str) -> LocalAwsError | None:
    """Why AWS refuses this unsigned request before any policy, or None (anonymous S3)."""
    if environ.get("HTTP_AUTHORIZATION"):
        # Present but not SigV4 (SigV2, or a SigV4 header missing its parts).
        if service == "s3":
            return unsupported_mechanism()
        return LocalAwsError("Authorization header requires 'Credential', 'SignedHeaders' and "
                             "'Signature' parameters (AWS4-HMAC-SHA256).",
                             "IncompleteSignature", 400)
    if service == "s3":
        query = environ.get("QUERY_STRING", "")
        if "Signature=" in query and "AWSAccessKeyId=" in query:  # a SigV2 presigned URL
            return unsupported_mechanism()
        return None
    if service == "sts" and operation in _UNSIGNED_OPERATIONS:
        return LocalAwsError(f"localaws does not serve sts:{operation} (web identity and SAML "
                             "trust are not modelled)", "LocalAwsUnsupported", 400)
    return missing_token(service)


def unsupported_mechanism() -> LocalAwsError:
    return LocalAwsError("The authorization mechanism you have provided is not supported. "
                         "Please use AWS4-HMAC-SHA256.", "InvalidRequest", 400)


def missing_token(service: str) -> LocalAwsError:
    """AWS's answer to an unsigned request: the JSON services name the exception (DynamoDB with
    HTTP 400), the query services (and SQS's query-compatible code) MissingAuthenticationToken."""
    if service in ("kms", "dynamodb", "json"):
        return LocalAwsError("Missing Authentication Token", "MissingAuthenticationTokenException",
                             400 if service == "dynamodb" else 403)
    return LocalAwsError("Request is missing Authentication Token", "MissingAuthenticationToken",
                         403)


def grant_public_access(req: Request, checks: list[Check]) -> None:
    """Mark what the bucket grants the anonymous principal beyond its policy (ACLs to AllUsers),
    and whether Block Public Access makes a public policy grant void (RestrictPublicBuckets)."""
    from .resources import bucket_of

    bucket_name, _, key_name = req.path.lstrip("/").partition("/")
    bucket = bucket_of(f"arn:{req.partition}:s3:::{bucket_name}")[1] if bucket_name else None
    if bucket is None:
        return
    block = bucket.public_access_block
    acls_off = bucket.ownership_rule == "BucketOwnerEnforced" or bool(
        block is not None and block.ignore_public_acls)
    for check in checks:
        check.restrict_public = bool(block is not None and block.restrict_public_buckets)
        grant = _ACL_GRANTS.get(check.action)
        if grant is None or acls_off:
            continue
        source = bucket if grant[0] == "bucket" else _key(bucket, key_name)
        check.public_acl = source is not None and _grants(source.acl, grant[1])


def _key(bucket: Any, name: str) -> Any:
    return bucket.keys.get(name) if name else None  # PATH_INFO is already percent-decoded


def _grants(acl: Any, permission: str) -> bool:
    for grant in getattr(acl, "grants", None) or []:
        if any(g.uri == _ALL_USERS for g in grant.grantees) and (
                permission in grant.permissions or "FULL_CONTROL" in grant.permissions):
            return True
    return False
