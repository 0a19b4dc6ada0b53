"""A small IAM policy evaluator: principals, wildcard actions, a few condition operators."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from .accounts import Caller


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def load(document: Any) -> dict[str, Any]:
    """Policies arrive as JSON strings, dicts (from CloudFormation) or URL-encoded strings."""
    if isinstance(document, dict):
        return document
    if not document:
        return {}
    try:
        parsed = json.loads(document)
    except ValueError:
        from urllib.parse import unquote

        parsed = json.loads(unquote(document))
    return parsed if isinstance(parsed, dict) else {}


def action_matches(statement: dict[str, Any], action: str) -> bool:
    return any(
        fnmatchcase(action.lower(), str(p).lower()) for p in as_list(statement.get("Action"))
    )


def principal_matches(statement: dict[str, Any], caller: Caller) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    accepted = {caller.arn, caller.account, f"arn:aws:iam::{caller.account}:root", "*"}
    if caller.role_arn:
        accepted.add(caller.role_arn)
    return any(str(value) in accepted for value in as_list(principal.get("AWS")))


def conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool | None:
    """True/False when every operator is understood; None when one is not."""
    context = {k.lower(): v for k, v in context.items()}
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            wanted = [str(v) for v in as_list(expected)]
            if operator == "StringEquals":
                ok = actual is not None and actual in wanted
            elif operator == "StringLike":
                ok = actual is not None and any(fnmatchcase(actual, w) for w in wanted)
            elif operator == "StringNotEquals":
                ok = actual is None or actual not in wanted
            elif operator == "Null":
                ok = (actual is None) == (wanted[0].lower() == "true")
            else:
                return None
            if not ok:
                return False
    return True


def decide(document: Any, caller: Caller, action: str, context: dict[str, str]) -> str:
    """'deny' (explicit), 'allow' or 'implicit'. Statements with NotAction/NotPrincipal or
    conditions we cannot evaluate are skipped: they neither allow nor deny."""
    allowed = False
    for statement in as_list(load(document).get("Statement")):
        if "NotAction" in statement or "NotPrincipal" in statement:
            continue
        if not (action_matches(statement, action) and principal_matches(statement, caller)):
            continue
        if conditions_hold(statement, context) is not True:
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "allow" if allowed else "implicit"
