"""Accounts side by side: 12-digit access keys are root credentials; who is calling."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

SERVICE_ACCOUNT = "111122223333"
TENANT_ACCOUNT = "444455556666"
OTHER_ACCOUNT = "777788889999"

ROOT_KEY = re.compile(r"\d{12}")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")

# The account a request acts in when it reaches another account's resource (a KMS key, topic or
# queue its policy shares): set by the server around moto's handling of that one request.
acting = threading.local()

# Accounts closed through the control endpoint; checked on every request by the server.
closed: set[str] = set()

# Access key id -> (account, IAM partition) where moto keeps it. moto's get_account_id_from
# walks every account's IAM backend for each request signed with a temporary or IAM-user key:
# O(accounts) per request. A hit is re-checked against that backend, so a deleted key or a reset
# is never served from here.
_key_accounts: dict[str, tuple[str, str]] = {}


ROOT_SECRET = "local"  # noqa: S105 - not a secret: the secret of every account's root key (documented in LOCALAWS.md)


@dataclass(frozen=True)
class Caller:
    """The principal behind a request, as policies see it: an account root, an IAM user, a
    role session (role_arn set) or an AWS service principal (service set)."""

    account: str
    arn: str
    role_arn: str | None = None
    service: str | None = None

    @property
    def is_root(self) -> bool:
        return self.service is None and self.arn.endswith(f":{self.account}:root")

    @property
    def anonymous(self) -> bool:
        """An unsigned S3 request: no account, no identity policies; only "*" grants match."""
        return not self.account and self.service is None

    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: a session reports its role's ARN."""
        return self.role_arn or self.arn


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
    return account_of_key(access_key)


def account_of_key(access_key: str) -> str:
    """moto's get_account_id_from (the account holding an IAM access key, else moto's default
    account), O(1) for a key seen before."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    hit = _key_accounts.get(access_key)
    if hit is not None:
        # dict.get, not [...]: moto's BackendDict creates missing accounts on lookup.
        partitions = dict.get(iam_backends, hit[0])
        backend = dict.get(partitions, hit[1]) if partitions is not None else None
        if backend is not None and access_key in backend.access_keys:
            return hit[0]
        _key_accounts.pop(access_key, None)
    for account_id, partitions in list(iam_backends.items()):
        for partition, backend in list(partitions.items()):
            if access_key in backend.access_keys:
                _key_accounts[access_key] = (account_id, partition)
                return str(account_id)
    return DEFAULT_ACCOUNT_ID


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


def _indexing(original: Any) -> Any:
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = original(self, *args, **kwargs)
        _key_accounts[key.access_key_id] = (self.account_id, self.region_name)
        return key

    create.__name__ = original.__name__
    return create


def apply() -> None:
    """Teach moto's request parsing that a 12-digit access key id selects that account."""
    from moto.core.responses import BaseResponse
    from moto.iam import models as iam_models

    original_key = BaseResponse.get_access_key
    original_account = BaseResponse.get_current_account

    def get_access_key(self: BaseResponse) -> str:
        key = access_key_of(self.headers)
        if key is not None and ROOT_KEY.fullmatch(key):
            return key
        return original_key(self)

    def get_current_account(self: BaseResponse) -> str:
        override = getattr(acting, "account", None)
        if override is not None:
            return str(override)
        key = self.get_access_key()
        if ROOT_KEY.fullmatch(key):
            return key
        return original_account(self)

    # Index every access key moto creates (AssumeRole sessions, IAM users' keys) as it is made,
    # so that even a key's first request needs no walk over all accounts.
    for name in ("create_temp_access_key", "create_access_key"):
        setattr(iam_models.IAMBackend, name, _indexing(getattr(iam_models.IAMBackend, name)))
    BaseResponse.get_access_key = get_access_key  # type: ignore[method-assign]
    BaseResponse.get_current_account = get_current_account  # type: ignore[method-assign]
    # moto imports it at call time (BaseResponse.get_current_account), so this reaches moto too.
    iam_models.get_account_id_from = account_of_key
