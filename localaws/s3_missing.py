"""A GET or HEAD of an S3 object that does not exist: AWS answers 404 (NoSuchKey) only to a
caller that may also list the bucket (s3:ListBucket); anyone else gets 403 AccessDenied, so
that a denied caller learns nothing about which keys exist."""

from __future__ import annotations

from typing import Any

from . import authz, denial, resources
from .accounts import Caller
from .operations import Request


def _missing(bucket: Any, key: str) -> bool:
    found = bucket.keys.get(key)
    return found is None or type(found).__name__ == "FakeDeleteMarker"


def check(caller: Caller, req: Request, checks: list[authz.Check]) -> None:
    """Raise the AccessDenied AWS gives for a missing object the caller may not list."""
    if req.service != "s3" or len(checks) != 1 or checks[0].action != "s3:GetObject" or \
            "versionId" in req.query:
        return
    target = checks[0]
    bucket_arn, _, key = target.resource.partition("/")
    _owner, bucket = resources.bucket_of(bucket_arn)
    if bucket is None or not _missing(bucket, key):
        return
    listing = authz.Check("s3:ListBucket", bucket_arn, target.resource_account,
                          resource_policy=target.resource_policy,
                          restrict_public=target.restrict_public)
    if authz.decide(caller, req, listing) is None:
        return  # moto answers NoSuchKey
    raise denial.access_denied("s3", "Access Denied")
