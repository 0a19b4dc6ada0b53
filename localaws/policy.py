"""IAM policy documents: parse and validate once (cached), then match statements to requests."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import conditions
from .accounts import Caller

EFFECTS = ("Allow", "Deny")


class MalformedPolicy(ValueError):
    """A policy document AWS would refuse at creation (MalformedPolicyDocument)."""


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run (also across ':' and '/'), ? one character; nothing else special.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).match(value) is not None


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: the element is absent
    not_resource: bool
    principals: dict[str, tuple[str, ...]] | None  # None: absent; {"*": ()} for "*"
    not_principal: bool
    condition: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def matches_action(self, action: str) -> bool:
        hit = any(glob(p, action, ignore_case=True) for p in self.actions)
        return hit != self.not_action

    def matches_resource(self, resource: str) -> bool:
        if self.resources is None:
            return True  # resource policies may leave it out: the resource itself
        hit = any(glob(p, resource) for p in self.resources)
        return hit != self.not_resource


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]


def _principals(value: Any) -> dict[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ()}
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy("Principal must be \"*\" or an object such as {\"AWS\": ...}")
    return {str(k): tuple(str(v) for v in as_list(vals)) for k, vals in value.items()}


def _statement(raw: Any, kind: str) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("each Statement must be an object")
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in EFFECTS:
        raise MalformedPolicy(f"Invalid effect: {effect}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise MalformedPolicy("a Statement needs exactly one of Action or NotAction")
    has_resource = "Resource" in raw or "NotResource" in raw
    if kind == "identity" and not has_resource:
        raise MalformedPolicy("Policy statement must contain resources.")
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if kind == "identity" and has_principal:
        raise MalformedPolicy("Policy document should not specify a principal.")
    if kind in ("resource", "trust") and not has_principal:
        raise MalformedPolicy("Missing required field Principal")
    cond = raw.get("Condition") or {}
    if not isinstance(cond, dict) or not all(isinstance(v, dict) for v in cond.values()):
        raise MalformedPolicy("Condition must map operators to {key: values} objects")
    principal_raw = raw.get("Principal", raw.get("NotPrincipal"))
    return Statement(
        effect=effect,
        actions=tuple(str(a) for a in as_list(raw.get("Action", raw.get("NotAction")))),
        not_action="NotAction" in raw,
        resources=tuple(str(r) for r in as_list(raw.get("Resource", raw.get("NotResource"))))
        if has_resource else None,
        not_resource="NotResource" in raw,
        principals=_principals(principal_raw) if has_principal else None,
        not_principal="NotPrincipal" in raw,
        condition={op: {k: [_text(v) for v in as_list(vals)] for k, vals in pairs.items()}
                   for op, pairs in cond.items()},
    )


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _decode(document: Any) -> Any:
    if isinstance(document, dict):
        return document
    if not isinstance(document, str) or not document.strip():
        raise MalformedPolicy("the policy document is empty")
    try:
        return json.loads(document)
    except ValueError:
        from urllib.parse import unquote

        try:
            return json.loads(unquote(document))  # moto keeps some documents URL-encoded
        except ValueError:
            raise MalformedPolicy("Syntax errors in policy.") from None


@functools.lru_cache(maxsize=2048)
def _parse_text(document: str, kind: str) -> Policy:
    return _parse_obj(_decode(document), kind)


def _parse_obj(raw: Any, kind: str) -> Policy:
    if not isinstance(raw, dict):
        raise MalformedPolicy("the policy document must be a JSON object")
    if "Version" not in raw:
        raise MalformedPolicy("Missing required field Version")
    if raw["Version"] not in ("2012-10-17", "2008-10-17"):
        raise MalformedPolicy(f"The policy must contain a valid version string: {raw['Version']}")
    if "Statement" not in raw:
        raise MalformedPolicy("Missing required field Statement")
    statements = as_list(raw["Statement"])
    if not statements:
        raise MalformedPolicy("Statement must not be empty")
    return Policy(tuple(_statement(s, kind) for s in statements))


def parse(document: Any, kind: str) -> Policy:
    """kind: 'identity', 'resource' or 'trust'. Raises MalformedPolicy. Text is cached."""
    if isinstance(document, str):
        return _parse_text(document, kind)
    return _parse_obj(_decode(document), kind)


def principal_match(statement: Statement, caller: Caller) -> str | None:
    """How a resource-policy statement's principal covers the caller: 'direct' (the caller, its
    role, "*", or the caller is its account's root and the account is named), 'account' (the
    caller's account is named: its identity policies must allow too), or None."""
    if statement.principals is None:
        return "direct"
    found = _principal_match(statement.principals, caller)
    if statement.not_principal:
        return None if found else "direct"
    return found


def _principal_match(principals: dict[str, tuple[str, ...]], caller: Caller) -> str | None:
    if "*" in principals:
        return "direct"
    if caller.service is not None:
        return "direct" if caller.service in principals.get("Service", ()) else None
    best: str | None = None
    for value in principals.get("AWS", ()):
        if value == "*" or value in (caller.arn, caller.role_arn):
            return "direct"
        if value == caller.account or re.fullmatch(rf"arn:aws[\w-]*:iam::{caller.account}:root",
                                                   value):
            if caller.is_root:
                return "direct"
            best = "account"
    return best


Lookup = Callable[[str], list[str] | None]


def statement_applies(statement: Statement, action: str, resource: str, lookup: Lookup) -> bool:
    return (statement.matches_action(action) and statement.matches_resource(resource)
            and conditions.hold(statement.condition, lookup))
