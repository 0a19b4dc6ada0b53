"""The strict gate every AWS request passes before moto: authenticate (SigV4 header or S3
presigned URL), validate new policy documents, authorise. An unsigned request is refused as its
service refuses it, or, for S3, evaluated as the anonymous principal. Lax mode (speed experiments
only) skips authentication and authorisation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import authn, authz, denial, policy, resources, s3_missing, unsigned
from .accounts import Caller
from .operations import Request

# operation -> (parameter holding a policy document, policy kind), validated at creation.
_DOCUMENTS = {
    ("iam", "PutRolePolicy"): ("PolicyDocument", "identity"),
    ("iam", "PutUserPolicy"): ("PolicyDocument", "identity"),
    ("iam", "PutGroupPolicy"): ("PolicyDocument", "identity"),
    ("iam", "CreatePolicy"): ("PolicyDocument", "identity"),
    ("iam", "CreatePolicyVersion"): ("PolicyDocument", "identity"),
    ("iam", "CreateRole"): ("AssumeRolePolicyDocument", "trust"),
    ("iam", "UpdateAssumeRolePolicy"): ("PolicyDocument", "trust"),
    ("kms", "CreateKey"): ("Policy", "resource"),
    ("kms", "PutKeyPolicy"): ("Policy", "resource"),
    ("kms", "ReplicateKey"): ("Policy", "resource"),
}
_MOTO_PATHS = ("/moto-api", "/latest/meta-data/", "/latest/api/")
_MALFORMED = {"iam": "MalformedPolicyDocument", "kms": "MalformedPolicyDocumentException"}


@dataclass
class Passed:
    """A request the gate let through; acting_account: serve it from that account."""

    caller: Caller | None
    acting_account: str | None = None


def parse_request(environ: dict[str, Any], body: bytes, service: str, region: str,
                  account: str) -> Request:
    target = environ.get("HTTP_X_AMZ_TARGET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params: dict[str, Any] = {}
    if target:
        operation = target.split(".")[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
    else:
        form = {} if "json" in environ.get("CONTENT_TYPE", "") or service == "s3" else \
            parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        merged = {**query, **form}
        params = {k: v[0] for k, v in merged.items()}
        operation = str(params.get("Action", ""))
    return Request(service=service, operation=operation, params=params, region=region,
                   account=account, partition=authn.partition_of(region),
                   path=environ.get("PATH_INFO", "/"), method=environ["REQUEST_METHOD"],
                   query=query)


def _validate_documents(req: Request) -> None:
    spec = _DOCUMENTS.get((req.service, req.operation))
    if spec is None or req.params.get(spec[0]) in (None, ""):
        return
    try:
        text = policy_text(req.params[spec[0]])
        policy.parse(text, spec[1])
        policy.require_version(text)
    except policy.MalformedPolicy as error:
        raise denial.LocalAwsError(str(error), _MALFORMED.get(req.service, "MalformedPolicy"),
                                   400) from None


def policy_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def check(environ: dict[str, Any], body: bytes, strict: bool) -> Passed | denial.Response:
    """Passed, or the error response AWS would give."""
    if strict and environ.get("PATH_INFO", "").startswith(_MOTO_PATHS):
        # moto routes these by path before any service: its reset and state API, not AWS.
        return denial.response("s3", denial.LocalAwsError(
            "moto's own endpoints are not served; localaws's control endpoint is /_localaws/",
            "LocalAwsUnsupported", 400))
    sig = authn.scope(environ)
    if sig is None:
        return _anonymous(environ, body) if strict else Passed(None)
    key, region, service = sig
    try:
        caller = authn.authenticate(environ, body) if strict else None
        account = caller.account if caller is not None else key
        req = parse_request(environ, body, service, region, account)
        _validate_documents(req)
        if caller is None:
            return Passed(None)
        checks = resources.checks_for(req)
        authz.authorize(caller, req, checks)
        s3_missing.check(caller, req, checks)
        return Passed(caller, resources.owner_of(req, checks))
    except denial.LocalAwsError as error:
        return denial.response(service, error)


def _anonymous(environ: dict[str, Any], body: bytes) -> Passed | denial.Response:
    """An unsigned request (localaws's own /_localaws/ endpoints never get here)."""
    service, operation = unsigned.service_of(environ, body)
    try:
        refused = unsigned.refusal(environ, service, operation)
        if refused is not None:
            raise refused
        req = parse_request(environ, body, "s3", "us-east-1", "")
        checks = resources.checks_for(req)
        first = checks[0]
        if not first.resource_account and first.resource != "*" and \
                first.action != "s3:CreateBucket":
            return Passed(unsigned.ANONYMOUS)  # no such bucket: moto answers NoSuchBucket
        unsigned.grant_public_access(req, checks)
        authz.authorize(unsigned.ANONYMOUS, req, checks)
        s3_missing.check(unsigned.ANONYMOUS, req, checks)
        # moto serves it from the bucket owner's account (it would pick its default one).
        return Passed(unsigned.ANONYMOUS, checks[0].resource_account or None)
    except denial.LocalAwsError as error:
        # A generic JSON service answers in the awsJson shape KMS uses.
        return denial.response("kms" if service == "json" else service, error)
