"""Who signed a request: the access key's principal, after its SigV4 signature is verified.

Root keys are the deterministic way to act as an account: access key id = the 12-digit account,
secret = accounts.ROOT_SECRET. IAM users' keys and AssumeRole sessions carry moto's secrets. The
signature is recomputed with botocore, as moto.iam.access_control does (its request rebuild is
reused in spirit; its key lookup walks every user, so ours uses the indexed one)."""

from __future__ import annotations

import re
from typing import Any

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from . import accounts, denial

_AUTH = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                   r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key id, region, service) of a SigV4 Authorization header."""
    match = _AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (match.group(1), match.group(3), match.group(4)) if match else None


def _secret(key: str, environ: dict[str, Any]) -> tuple[str, str | None, accounts.Caller]:
    """(secret, session token, caller) of an access key; unknown keys raise."""
    if accounts.ROOT_KEY.fullmatch(key):
        return accounts.ROOT_SECRET, None, accounts.Caller(key, f"arn:aws:iam::{key}:root")
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    account = accounts.account_of_key(key)
    partitions: Any = dict.get(iam_backends, account) or {}
    for partition, backend in list(partitions.items()):
        user_key = backend.access_keys.get(key)
        if user_key is not None and user_key.status == "Active":
            if user_key.role_arn is not None:  # an AssumeRole session
                session = sts_backends[account][partition].get_assumed_role_from_access_key(key)
                if session is None:
                    break
                caller = accounts.Caller(account, session.arn, session.role_arn)
                return session.secret_access_key, session.session_token, caller
            user = backend.get_user_from_access_key_id(key)
            if user is None:
                break
            return user_key.secret_access_key, None, accounts.Caller(account, user.arn)
    raise LookupError(key)


def authenticate(environ: dict[str, Any], body: bytes) -> accounts.Caller | None:
    """The caller of a signed request; None for an unsigned one (anonymous). Raises
    denial.LocalAwsError for unknown keys, a wrong session token or a bad signature."""
    match = _AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    key, _date, region, service, signed, signature = match.groups()
    try:
        secret, token, caller = _secret(key, environ)
    except LookupError:
        raise denial.unknown_key(service) from None
    if token is not None and environ.get("HTTP_X_AMZ_SECURITY_TOKEN") != token:
        raise denial.unknown_key(service)
    if _signature(environ, body, Credentials(key, secret, token), region, service,
                  signed.split(";")) != signature:
        raise denial.bad_signature(service)
    return caller


def _headers(environ: dict[str, Any], names: list[str]) -> dict[str, str]:
    out = {}
    for name in names:
        if name == "content-type":
            value = environ.get("CONTENT_TYPE")
        elif name == "content-length":
            value = environ.get("CONTENT_LENGTH")
        else:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value is not None:
            out[name] = value
    return out


def _signature(environ: dict[str, Any], body: bytes, creds: Credentials, region: str,
               service: str, signed: list[str]) -> str:
    headers = _headers(environ, signed)
    # The URI as the client sent it: PATH_INFO is already percent-decoded.
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    url = f"http://{environ.get('HTTP_HOST', 'localhost')}{uri}"
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, data=body, headers=headers)
    request.context["timestamp"] = headers.get("x-amz-date", "")
    auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))
