"""KMS request checks moto skips: key state (policies are the gate's: authz.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms.models import Key
from moto.kms.responses import KmsResponse

from . import kms_deletion, kms_fixes

# response method -> (IAM action, which parameter names the key, key-state rule)
CRYPTO = "crypto"
MANAGE = "manage"
OPERATIONS: dict[str, tuple[str, str, str | None]] = {
    "encrypt": ("kms:Encrypt", "KeyId", CRYPTO),
    "decrypt": ("kms:Decrypt", "CiphertextBlob", CRYPTO),
    "generate_data_key": ("kms:GenerateDataKey", "KeyId", CRYPTO),
    "generate_data_key_without_plaintext": (
        "kms:GenerateDataKeyWithoutPlaintext",
        "KeyId",
        CRYPTO,
    ),
    "re_encrypt": ("kms:ReEncryptFrom", "CiphertextBlob", CRYPTO),
    "describe_key": ("kms:DescribeKey", "KeyId", None),
    "enable_key": ("kms:EnableKey", "KeyId", MANAGE),
    "disable_key": ("kms:DisableKey", "KeyId", MANAGE),
    "replicate_key": ("kms:ReplicateKey", "KeyId", MANAGE),
    "schedule_key_deletion": ("kms:ScheduleKeyDeletion", "KeyId", MANAGE),
    "cancel_key_deletion": ("kms:CancelKeyDeletion", "KeyId", "cancel"),
}


def _key(response: KmsResponse, param: str) -> Key | None:
    backend = response.kms_backend
    if param == "CiphertextBlob":
        key_id = kms_fixes.key_id_in_ciphertext(response._get_param(param) or b"")
        if key_id is None:
            return None  # moto answers InvalidCiphertextException
        if key_id not in backend.keys:
            arn = f"arn:aws:kms:{response.region}:{response.current_account}:key/{key_id}"
            if arn in kms_deletion.deleted_arns:
                raise JsonRESTError("NotFoundException", f"Key '{arn}' does not exist")
            return None
        return backend.keys[key_id]
    key_id = response._get_param(param)
    if not key_id:
        return None
    response._validate_key_id(key_id)  # NotFoundException for unknown and deleted keys
    return backend.keys[backend.any_id_to_key_id(key_id)]


def _check_state(key: Key, rule: str | None) -> None:
    state = key.key_state
    if rule == CRYPTO and state == "Disabled":
        raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
    if rule in (CRYPTO, MANAGE) and state in kms_deletion.PENDING:
        what = "pending deletion" if state == "PendingDeletion" else "pending replica deletion"
        raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is {what}.")
    if rule == "cancel" and state not in kms_deletion.PENDING:
        raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is not pending deletion.")


def check(response: KmsResponse, method: str) -> None:
    action, param, rule = OPERATIONS[method]
    kms_deletion.sweep()
    checks = [(param, action)]
    if method == "re_encrypt":
        checks.append(("DestinationKeyId", "kms:ReEncryptTo"))
    for name, _action in checks:
        key = _key(response, name)
        if key is not None:
            _check_state(key, rule)


def _guarded(method: str, original: Callable[[KmsResponse], Any]) -> Callable[[KmsResponse], Any]:
    @functools.wraps(original)
    def wrapper(self: KmsResponse) -> Any:
        # GenerateDataKeyWithoutPlaintext calls generate_data_key: check only the outer action.
        if not getattr(self, "_localaws_checked", False):
            self._localaws_checked = True  # type: ignore[attr-defined]
            check(self, method)
        return original(self)

    return wrapper


def apply() -> None:
    for method in OPERATIONS:
        setattr(KmsResponse, method, _guarded(method, getattr(KmsResponse, method)))
    # Stock moto denies DescribeKey for any Deny statement, whoever the principal; key policies
    # are evaluated, with the caller's identity policies, by the gate (gate.py, authz.py).
    KmsResponse._validate_key_policy = lambda self, key_id, action: None  # type: ignore[method-assign]
