"""Who signed a request: the access key's principal, after its SigV4 signature is verified.

Root keys are the deterministic way to act as an account: access key id = the 12-digit account,
secret = accounts.ROOT_SECRET. IAM users' keys and AssumeRole sessions carry moto's secrets. The
signature is recomputed with botocore, as moto.iam.access_control does (its request rebuild is
reused in spirit; its key lookup walks every user, so ours uses the indexed one). S3 presigned
URLs (query-string SigV4) are verified the same way, with their expiry on localaws's clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from . import accounts, clock, denial

_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
               "X-Amz-SignedHeaders", "X-Amz-Expires")
MAX_EXPIRES = 604800  # a week, AWS's limit for a SigV4 presigned URL
_AUTH = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                   r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key id, region, service) of a SigV4 Authorization header or presigned query."""
    match = _AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1), match.group(3), match.group(4)
    credential = presigned(environ).get("X-Amz-Credential", "").split("/")
    if len(credential) == 5 and credential[4] == "aws4_request":
        return credential[0], credential[2], credential[3]
    return None


def presigned(environ: dict[str, Any]) -> dict[str, str]:
    """The query-string SigV4 parameters of a request (empty when it has none)."""
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-" not in query:
        return {}
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()
            if k.startswith("X-Amz-")}


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
        return _authenticate_query(environ) if presigned(environ) else None
    key, _date, region, service, signed, signature = match.groups()
    return _verify(environ, body, key, region, service, signed.split(";"), signature,
                   environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))


def _verify(environ: dict[str, Any], body: bytes | None, key: str, region: str, service: str,
            signed: list[str], signature: str, sent_token: str | None) -> accounts.Caller:
    """body None: a presigned request (the signature covers the query, not the payload)."""
    try:
        secret, token, caller = _secret(key, environ)
    except LookupError:
        raise denial.unknown_key(service) from None
    if token is not None and sent_token != token:
        raise denial.unknown_key(service)
    if _signature(environ, body, Credentials(key, secret, token), region, service,
                  signed) != signature:
        raise denial.bad_signature(service)
    return caller


def _query_error(message: str) -> denial.LocalAwsError:
    return denial.LocalAwsError(message, "AuthorizationQueryParametersError", 400)


def _authenticate_query(environ: dict[str, Any]) -> accounts.Caller:
    """The signer of a presigned S3 URL, after its parameters, expiry and signature."""
    q = presigned(environ)
    if any(not q.get(name) for name in _QUERY_AUTH):
        raise _query_error("Query-string authentication version 4 requires the "
                           + ", ".join(_QUERY_AUTH) + " parameters.")
    if q["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        raise _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    credential = q["X-Amz-Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise _query_error("Error parsing the X-Amz-Credential parameter; the Credential is "
                           "mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/"
                           "aws4_request\".")
    key, day, region, service = credential[:4]
    if service != "s3":
        raise denial.LocalAwsError(f"localaws verifies presigned URLs for S3 only, not {service}",
                                   "LocalAwsUnsupported", 400)
    try:
        expires = int(q["X-Amz-Expires"])
        signed_at = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise _query_error("X-Amz-Expires should be a number and X-Amz-Date a date such as "
                           "20260102T030405Z") from None
    if expires < 0:
        raise _query_error("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise _query_error("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    if not q["X-Amz-Date"].startswith(day):
        raise _query_error("Invalid credential date. Date is not the same as X-Amz-Date.")
    if clock.now() > signed_at + timedelta(seconds=expires):
        raise denial.LocalAwsError("Request has expired", "AccessDenied", 403)
    return _verify(environ, None, key, region, service, q["X-Amz-SignedHeaders"].split(";"),
                   q["X-Amz-Signature"], q.get("X-Amz-Security-Token"))


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


def _signature(environ: dict[str, Any], body: bytes | None, creds: Credentials, region: str,
               service: str, signed: list[str]) -> str:
    headers = _headers(environ, signed)
    # The URI as the client sent it: PATH_INFO is already percent-decoded.
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    if body is None:  # presigned: the query minus the signature is what was signed
        path, _, query = uri.partition("?")
        kept = [p for p in query.split("&") if p.partition("=")[0] != "X-Amz-Signature"]
        uri = f"{path}?{'&'.join(kept)}"
    url = f"http://{environ.get('HTTP_HOST', 'localhost')}{uri}"
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, data=body or b"",
                         headers=headers)
    if body is None:
        request.context["timestamp"] = unquote(presigned(environ).get("X-Amz-Date", ""))
        auth: SigV4Auth = S3SigV4QueryAuth(creds, service, region)
    else:
        request.context["timestamp"] = headers.get("x-amz-date", "")
        auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region)
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))
