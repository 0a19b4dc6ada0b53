"""Accounts side by side: 12-digit access keys are root credentials; who is calling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SERVICE_ACCOUNT = "111122223333"
TENANT_ACCOUNT = "444455556666"
OTHER_ACCOUNT = "777788889999"

ROOT_KEY = re.compile(r"\d{12}")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")

# Accounts closed through the control endpoint; checked on every request by the server.
closed: set[str] = set()


@dataclass(frozen=True)
class Caller:
    """The principal behind a request, as policies see it."""

    account: str
    arn: str
    role_arn: str | None = None


def access_key_of(headers: Any) -> str | None:
    """The access key id in a SigV4 Authorization header (moto only accepts 20-char ids)."""
    match = _CREDENTIAL.search(headers.get("Authorization", "") or "")
    return match.group(1) if match else None


def account_of(access_key: str | None) -> str | None:
    """The account an access key acts in: its own digits, or the account of moto's temp key."""
    if access_key is None:
        return None
    if ROOT_KEY.fullmatch(access_key):
        return access_key
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def caller_of(access_key: str, account: str) -> Caller:
    """Resolve the caller's ARN: root for 12-digit keys, the session for AssumeRole keys."""
    if ROOT_KEY.fullmatch(access_key):
        return Caller(access_key, f"arn:aws:iam::{access_key}:root")
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    if assumed is not None:
        return Caller(account, assumed.arn, assumed.role_arn)
    user = iam_backends[account]["aws"].get_user_from_access_key_id(access_key)
    if user is not None:
        return Caller(account, user.arn)
    return Caller(account, f"arn:aws:iam::{account}:root")


def apply() -> None:
    """Teach moto's request parsing that a 12-digit access key id selects that account."""
    from moto.core.responses import BaseResponse

    original_key = BaseResponse.get_access_key
    original_account = BaseResponse.get_current_account

    def get_access_key(self: BaseResponse) -> str:
        key = access_key_of(self.headers)
        if key is not None and ROOT_KEY.fullmatch(key):
            return key
        return original_key(self)

    def get_current_account(self: BaseResponse) -> str:
        key = self.get_access_key()
        if ROOT_KEY.fullmatch(key):
            return key
        return original_account(self)

    BaseResponse.get_access_key = get_access_key  # type: ignore[method-assign]
    BaseResponse.get_current_account = get_current_account  # type: ignore[method-assign]
