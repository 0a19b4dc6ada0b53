"""Authorise a request as AWS does: the caller's identity policies and the resource's policy.

Explicit Deny anywhere wins. Across accounts both sides must allow, always. Within an account,
KMS key policies and role trust policies must admit the caller (directly, or by naming its
account - then its identity policies must allow too); other resource policies (S3, SNS, SQS)
may grant on their own. An account's root is allowed everything by identity. The anonymous
principal (unsigned S3) has no identity: a public bucket policy or a public ACL must grant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import policy
from .accounts import Caller
from .denial import access_denied
from .operations import Request

Lookup = Callable[[str], "list[str] | None"]


@dataclass
class Check:
    """One permission a request needs."""

    action: str
    resource: str
    resource_account: str | None  # None: no account (S3 ARNs name none): the owner's
    resource_policy: str | dict[str, object] | None = None
    policy_required: bool = False  # KMS key policies and trust policies
    context: dict[str, list[str]] = field(default_factory=dict)
    tags: Callable[[], dict[str, str]] | None = None  # aws:ResourceTag/*
    public_acl: bool = False  # an S3 ACL grants this to AllUsers (anonymous requests)
    restrict_public: bool = False  # Block Public Access voids public policy grants


def _lookup(caller: Caller, req: Request, check: Check) -> Lookup:
    base = {
        "aws:requestedregion": [req.region],
        # Requests reach localaws over loopback HTTP; they stand for AWS's TLS endpoints,
        # so the TLS-only bucket policies written for AWS apply as they do there.
        "aws:securetransport": ["true"],
    }
    if not caller.anonymous:  # an anonymous request has no principal keys at all
        base.update({
            "aws:principalaccount": [caller.account], "aws:principalarn": [caller.principal_arn],
            # Direct calls: SNS's legacy default topic policy compares the caller's account.
            "aws:sourceowner": [caller.account]})
    if req.service == "kms":
        base["kms:calleraccount"] = [caller.account]
    base.update({k.lower(): v for k, v in check.context.items()})
    tags: dict[str, str] | None = None

    def lookup(key: str) -> list[str] | None:
        nonlocal tags
        low = key.lower()
        if low.startswith("aws:resourcetag/"):
            if tags is None:
                tags = check.tags() if check.tags else {}
            value = tags.get(key.split("/", 1)[1])
            return None if value is None else [value]
        return base.get(low)

    return lookup


def _identity_allows(caller: Caller, check: Check, lookup: Lookup) -> str:
    """'deny', 'allow' or 'implicit' from the caller's identity policies."""
    if caller.service is not None or caller.anonymous:
        return "implicit"
    if caller.is_root:
        return "allow"
    from .resources import identity_policies

    allowed = False
    for document in identity_policies(caller):
        for statement in policy.parse(document, "identity").statements:
            if policy.statement_applies(statement, check.action, check.resource, lookup):
                if statement.effect == "Deny":
                    return "deny"
                allowed = True
    return "allow" if allowed else "implicit"


def _resource_allows(caller: Caller, check: Check, lookup: Lookup) -> str:
    """'deny', 'direct', 'account' or 'implicit' from the resource's policy."""
    if check.resource_policy is None:
        return "implicit"
    kind = "trust" if check.action == "sts:AssumeRole" else "resource"
    best = "implicit"
    for statement in policy.parse(check.resource_policy, kind).statements:
        how = policy.principal_match(statement, caller)
        if how is None or not policy.statement_applies(statement, check.action, check.resource,
                                                       lookup):
            continue
        if statement.effect == "Deny":
            return "deny"
        if how == "direct" or best == "implicit":
            best = how
    return best


def decide(caller: Caller, req: Request, check: Check) -> str | None:
    """None when allowed; otherwise why not, in AWS's words."""
    lookup = _lookup(caller, req, check)
    identity = _identity_allows(caller, check, lookup)
    if identity == "deny":
        return "with an explicit deny in an identity-based policy"
    granted = _resource_allows(caller, check, lookup)
    if granted == "deny":
        return "with an explicit deny in a resource-based policy"
    same = check.resource_account in (None, caller.account)
    no_identity = f"because no identity-based policy allows the {check.action} action"
    no_resource = f"because no resource-based policy allows the {check.action} action"
    if caller.anonymous:
        public = granted == "direct" and not check.restrict_public
        return None if public or check.public_acl else no_resource
    if check.policy_required and same:
        if granted == "direct" or (granted == "account" and identity == "allow"):
            return None
        return no_identity if granted == "account" else no_resource
    if same:
        return None if identity == "allow" or granted == "direct" else no_identity
    if identity != "allow":
        return no_identity
    return None if granted in ("direct", "account") else no_resource


def authorize(caller: Caller, req: Request, checks: list[Check]) -> None:
    for check in checks:
        reason = decide(caller, req, check)
        if reason is not None:
            action = check.action
            if req.service == "sns":
                action = "SNS:" + action.split(":", 1)[1]
            message = f"User: {caller.arn} is not authorized to perform: {action} on resource: " \
                f"{check.resource}"
            # STS names no reason for AssumeRole (that would tell a stranger about the trust).
            if action != "sts:AssumeRole":
                message += f" {reason}"
            raise access_denied(req.service, message)
