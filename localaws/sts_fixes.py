"""STS fixes: AssumeRole of a closed account's role, GetCallerIdentity of root keys.

Closed accounts (chosen to be close to AWS): any call signed with credentials of a closed
account - its root keys or sessions of its roles - gets 403 InvalidClientTokenId (the server
checks this before moto sees the request); AssumeRole of a role in a closed account gets 403
AccessDenied with the same message as a role that does not exist."""

from __future__ import annotations

import re
from typing import Any

from moto.sts.models import STSBackend
from moto.sts.responses import TokenResponse

from . import accounts
from .faults import QueryError

_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):role/.+")


def check_assume_role(response: TokenResponse) -> None:
    """A role of a closed account, or no role ARN at all: AccessDenied as for a missing role.
    The trust policy, ExternalId and the caller's own policies are the gate's (authz.py)."""
    role_arn = response._get_param("RoleArn") or ""
    caller = accounts.caller_of(response.get_access_key(), response.current_account)
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None or match.group(1) in accounts.closed:
        raise QueryError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: "
            f"{role_arn}",
        )


def _assume_role(original: Any) -> Any:
    def assume_role(self: TokenResponse) -> Any:
        check_assume_role(self)
        return original(self)

    return assume_role


def _caller_identity(original: Any) -> Any:
    def get_caller_identity(self: STSBackend, access_key_id: str, region: str) -> Any:
        # Root credentials: AWS reports the account id as UserId and the account root ARN.
        if accounts.ROOT_KEY.fullmatch(access_key_id):
            return access_key_id, f"arn:aws:iam::{access_key_id}:root", access_key_id
        return original(self, access_key_id, region)

    return get_caller_identity


def apply() -> None:
    TokenResponse.assume_role = _assume_role(TokenResponse.assume_role)  # type: ignore[method-assign]
    STSBackend.get_caller_identity = _caller_identity(STSBackend.get_caller_identity)  # type: ignore[method-assign]
