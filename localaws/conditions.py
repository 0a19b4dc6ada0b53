"""IAM Condition blocks: the operators and context keys localaws understands; others are errors."""

from __future__ import annotations

import re
from collections.abc import Callable

from .denial import LocalAwsError

# Context keys the evaluator can supply (matched case-insensitively, as AWS does).
KEYS = {
    "sts:externalid", "aws:sourcearn", "aws:sourceaccount", "aws:principalaccount",
    "aws:principalarn", "aws:requestedregion", "aws:sourceowner", "kms:calleraccount",
    "kms:viaservice", "kms:replicaregion", "kms:multiregionkeytype", "kms:multiregion",
    "kms:encryptioncontextkeys", "aws:tagkeys", "aws:securetransport", "kms:resourcealiases",
}
KEY_PREFIXES = ("aws:resourcetag/", "aws:requesttag/", "kms:encryptioncontext:")

Lookup = Callable[[str], "list[str] | None"]


class UnsupportedCondition(LocalAwsError):
    """A policy uses a condition operator or key localaws cannot evaluate."""


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) \
        is not None


def _arn_like(pattern: str, value: str) -> bool:
    # ArnLike compares the six colon-separated parts, each with wildcards.
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(_glob(a, b) for a, b in zip(p, v, strict=True))


# operator -> (matches one actual value against one wanted value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda a, w: a == w, False),
    "StringNotEquals": (lambda a, w: a == w, True),
    "StringEqualsIgnoreCase": (lambda a, w: a.lower() == w.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda a, w: a.lower() == w.lower(), True),
    "StringLike": (lambda a, w: _glob(w, a), False),
    "StringNotLike": (lambda a, w: _glob(w, a), True),
    "ArnEquals": (lambda a, w: a == w, False),
    "ArnNotEquals": (lambda a, w: a == w, True),
    "ArnLike": (lambda a, w: _arn_like(w, a), False),
    "ArnNotLike": (lambda a, w: _arn_like(w, a), True),
    "Bool": (lambda a, w: a.lower() == w.lower(), False),
}


def check_key(key: str) -> None:
    low = key.lower()
    if low not in KEYS and not low.startswith(KEY_PREFIXES):
        raise UnsupportedCondition(f"localaws cannot evaluate the condition key {key!r}")


def _one(operator: str, key: str, wanted: list[str], lookup: Lookup) -> bool:
    check_key(key)
    actual = lookup(key)
    if operator == "Null":
        return (actual is None) == (wanted[0].lower() == "true")
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if qualifier not in ("", "ForAnyValue", "ForAllValues") or base not in _OPERATORS:
        raise UnsupportedCondition(f"localaws cannot evaluate the condition operator "
                                   f"{operator!r}")
    match, negated = _OPERATORS[base]
    if actual is None:
        # A missing key: IfExists and ForAllValues hold; a negated operator holds; others fail.
        return if_exists or qualifier == "ForAllValues" or (negated and qualifier == "")
    def hit(value: str) -> bool:
        return any(match(value, w) for w in wanted) != negated
    if qualifier == "ForAllValues":
        return all(hit(v) for v in actual)
    return any(hit(v) for v in actual)


def hold(condition: dict[str, dict[str, list[str]]], lookup: Lookup) -> bool:
    """All operators and all keys must hold (AND); values of one key are alternatives (OR)."""
    return all(_one(op, key, wanted, lookup)
               for op, pairs in condition.items() for key, wanted in pairs.items())

