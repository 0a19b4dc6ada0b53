"""CloudFormation's TemplateURL: only an S3 object that exists and that the caller may read."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.s3.models import s3_backends

from . import accounts, authz
from .operations import Request

_VIRTUAL = re.compile(r"^(?P<bucket>[a-z0-9.-]+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com$")
_PATH = re.compile(r"^s3([.-][a-z0-9-]+)?\.amazonaws\.com$")
UNSUPPORTED = "TemplateURL must be a supported URL."
DENIED = ("S3 error: Access Denied For more information check "
          "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html")
NO_KEY = ("S3 error: The specified key does not exist. For more information check "
          "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html")


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def locate(url: str) -> tuple[str, str] | None:
    """(bucket, key) of an S3 URL: virtual-hosted, path style, or localaws's own endpoint."""
    parts = urlsplit(url)
    path = unquote(parts.path).lstrip("/")
    host = parts.hostname or ""
    if parts.scheme == "http" and host in LOOPBACK:  # a localaws endpoint (never AWS's)
        bucket, _, key = path.partition("/")
    elif parts.scheme != "https":
        return None
    elif match := _VIRTUAL.fullmatch(host):
        bucket, key = match["bucket"], path
    elif _PATH.fullmatch(host):
        bucket, _, key = path.partition("/")
    else:
        return None
    return (bucket, key) if bucket and key else None


def _may_read(owner: str, bucket: Any, key: str, caller: accounts.Caller,
              region: str) -> bool:
    """As S3 decides GetObject: the caller's identity policies and the bucket policy."""
    document = getattr(bucket, "policy", None)
    check = authz.Check("s3:GetObject", f"arn:aws:s3:::{bucket.name}/{key}", owner,
                        document.decode() if isinstance(document, bytes) else document)
    req = Request("s3", "GetObject", {}, region, caller.account)
    return authz.decide(caller, req, check) is None


def read_template(self: CloudFormationResponse, template_url: str) -> str:
    where = locate(template_url)
    if where is None:
        raise ValidationError(message=UNSUPPORTED)
    bucket_name, key_name = where
    found = s3_backends.bucket_accounts.get(bucket_name)
    if found is None:
        raise ValidationError(message=DENIED)
    partition, owner = found
    bucket = s3_backends[owner][partition].buckets[bucket_name]
    access_key = accounts.access_key_of(self.headers) or ""
    caller = accounts.caller_of(access_key, self.current_account) if access_key else \
        accounts.Caller(self.current_account, f"arn:aws:iam::{self.current_account}:root")
    if not _may_read(owner, bucket, key_name, caller, self.region):
        raise ValidationError(message=DENIED)
    obj = bucket.keys.get(key_name)
    if obj is None:
        raise ValidationError(message=NO_KEY)
    return str(obj.value.decode("utf-8"))


def apply() -> None:
    CloudFormationResponse._get_stack_from_s3_url = read_template  # type: ignore[method-assign]
