"""KMS model fixes: key ids, multi-region ciphertexts and replicas, key ids as ARNs."""

from __future__ import annotations

import json
import re
import threading
from copy import copy
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms import models as kms_models
from moto.kms import utils as kms_utils
from moto.kms.exceptions import NotFoundException
from moto.kms.models import Key, KmsBackend, kms_backends
from moto.kms.responses import KmsResponse
from moto.moto_api._internal import mock_random

from . import consistency

# Real key ids: a UUID for single-region keys, mrk- and 32 lowercase hex digits for multi-region.
_RAW_KEY_ID = re.compile(
    r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    re.IGNORECASE,
)


def generate_key_id(multi_region: bool = False) -> str:
    # Stock moto gives multi-region keys "mrk-" + a dashed UUID, which real ids never are.
    key = mock_random.uuid4()
    return f"mrk-{key.hex}" if multi_region else str(key)


class LazyPrivateKey:
    """moto generates an RSA-2048 private key for every key it creates, symmetric ones too
    (tens of milliseconds of CPU each, under the GIL). Generate it on first use (Sign, Verify,
    GetPublicKey) instead. Replicas share it, as they share moto's eager one (a shallow copy)."""

    def __init__(self, key_spec: str):
        self._key_spec = key_spec
        self._key: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        with self._lock:
            if self._key is None:
                self._key = kms_utils.generate_private_key(self._key_spec)
        return getattr(self._key, name)


def _create_key(original: Any) -> Any:
    def create_key(self: KmsBackend, policy: Any, key_usage: Any, key_spec: Any,
                   description: Any, tags: Any, multi_region: Any = False,
                   origin: str = "AWS_KMS") -> Key:
        # AWS defaults KeyUsage to ENCRYPT_DECRYPT and always reports MultiRegion; stock moto
        # leaves both out of DescribeKey when CreateKey did not name them.
        return original(self, policy, key_usage or "ENCRYPT_DECRYPT", key_spec, description,
                        tags, bool(multi_region), origin)

    return create_key


def validate_cmk_id(self: KmsResponse, key_id: str) -> None:
    """moto's check with the real id shapes (its own accepts only mrk- + a dashed UUID)."""
    is_arn = key_id.startswith("arn:") and ":key/" in key_id
    if not is_arn and not _RAW_KEY_ID.fullmatch(key_id):
        raise NotFoundException(f"Invalid keyId {key_id}")
    if self.kms_backend.get_key_id(key_id) not in self.kms_backend.keys:
        raise NotFoundException(f"Key '{self._display_arn(key_id)}' does not exist")


def _serialize(ciphertext: Any) -> bytes:
    # Stock moto packs the key id into 36 bytes; an mrk- id has 40, so it could never decrypt.
    key_id = ciphertext.key_id.encode("utf-8")
    return bytes([len(key_id)]) + key_id + ciphertext.iv + ciphertext.tag + ciphertext.ciphertext


def _deserialize(ciphertext_blob: bytes) -> Any:
    blob = ciphertext_blob
    size = blob[0]
    key_id = blob[1 : 1 + size].decode("utf-8")
    iv_end = 1 + size + kms_utils.IV_LEN
    tag_end = iv_end + kms_utils.TAG_LEN
    if len(blob) <= tag_end:
        raise ValueError("ciphertext too short")
    return kms_utils.Ciphertext(
        key_id, blob[1 + size : iv_end], blob[tag_end:], blob[iv_end:tag_end]
    )


def key_id_in_ciphertext(blob: bytes) -> str | None:
    try:
        return str(_deserialize(ciphertext_blob=blob).key_id)
    except (IndexError, TypeError, ValueError):  # too short, not bytes, or not UTF-8
        return None


def replicate_key(self: KmsBackend, key_id: str, replica_region: str, policy: Any = None) -> Key:
    """A replica with its own state; only the list of replicas is shared with the primary."""
    primary = self.keys[self.get_key_id(key_id)]
    config = primary.multi_region_configuration if primary.multi_region else {}
    if config.get("MultiRegionKeyType") != "PRIMARY":
        raise JsonRESTError(
            "UnsupportedOperationException", f"{primary.arn} is not a multi-Region primary key."
        )
    arn = primary.arn.replace(f":{self.region_name}:", f":{replica_region}:", 1)
    if (self.account_id, replica_region) in consistency.disabled_regions:
        raise JsonRESTError(
            "UnsupportedOperationException",
            f"ReplicaRegion {replica_region} is not enabled for account {self.account_id}.",
        )
    taken = {r["Region"] for r in config["ReplicaKeys"]} | {self.region_name}
    if replica_region in taken:
        raise JsonRESTError("AlreadyExistsException", f"Key '{arn}' already exists")
    replica = copy(primary)
    replica.region, replica.arn = replica_region, arn
    replica.grants, replica.aliases, replica.rotations = {}, {}, []
    replica.key_state, replica.enabled, replica.deletion_date = "Enabled", True, None
    replica.policy = policy or replica.generate_default_policy()
    replica.multi_region_configuration = {
        "MultiRegionKeyType": "REPLICA",
        "PrimaryKey": config["PrimaryKey"],
        "ReplicaKeys": config["ReplicaKeys"],
    }
    config["ReplicaKeys"].append({"Arn": arn, "Region": replica_region})
    kms_backends[self.account_id][replica_region].keys[replica.id] = replica
    consistency.replica_created(replica)  # Creating for a while, as on AWS
    return replica


def replicate_key_response(self: KmsResponse) -> str:
    policy = self._get_param("Policy")
    self._validate_cmk_id(self._get_param("KeyId"))  # key id or ARN; an alias is NotFound
    replica = self.kms_backend.replicate_key(  # type: ignore[call-arg]
        self._get_param("KeyId"), self._get_param("ReplicaRegion"), policy
    )
    return json.dumps(
        {"ReplicaKeyMetadata": replica.to_dict()["KeyMetadata"], "ReplicaPolicy": replica.policy}
    )


# Key-management calls whose KeyId may be a key id or key ARN (not an alias, as in AWS's API
# reference). moto validates some of them with the alias-accepting check, or not at all, and its
# backend indexes self.keys with the raw parameter: a key ARN, an alias or an unknown key was a
# KeyError, i.e. HTTP 500. The parameter is checked first (NotFoundException as AWS answers).
KEY_ID_OR_ARN = (
    "rotate_key_on_demand",
    "list_key_rotations",
    "create_grant",
    "list_grants",
    "revoke_grant",
    "retire_grant",
)


def _key_id_or_arn(original: Any) -> Any:
    def method(self: KmsResponse) -> Any:
        key_id = self._get_param("KeyId")
        if key_id is not None:
            self._validate_cmk_id(key_id)
        return original(self)

    method.__name__ = original.__name__
    return method


def _by_raw_id(original: Any) -> Any:
    """A backend method that indexes self.keys[key_id] directly, given the raw id instead."""

    def method(self: KmsBackend, key_id: str, *args: Any) -> Any:
        return original(self, self.get_key_id(key_id), *args)

    method.__name__ = original.__name__
    return method


def cancel_key_deletion_response(self: KmsResponse) -> str:
    key_id = self._get_param("KeyId")
    self._validate_cmk_id(key_id)
    key = self.kms_backend.keys[self.kms_backend.get_key_id(key_id)]
    self.kms_backend.cancel_key_deletion(key.id)
    return json.dumps({"KeyId": key.arn})  # AWS answers the key ARN, whatever was given


def apply() -> None:
    kms_models.generate_key_id = generate_key_id
    kms_models.generate_private_key = LazyPrivateKey  # type: ignore[assignment]
    KmsBackend.create_key = _create_key(KmsBackend.create_key)  # type: ignore[method-assign]
    KmsResponse._validate_cmk_id = validate_cmk_id  # type: ignore[method-assign]
    kms_utils._serialize_ciphertext_blob = _serialize
    kms_utils._deserialize_ciphertext_blob = _deserialize
    KmsBackend.replicate_key = replicate_key  # type: ignore[method-assign]
    KmsResponse.replicate_key = replicate_key_response  # type: ignore[method-assign]
    KmsResponse.cancel_key_deletion = cancel_key_deletion_response  # type: ignore[method-assign]
    for name in ("enable_key", "disable_key", "cancel_key_deletion"):
        setattr(KmsBackend, name, _by_raw_id(getattr(KmsBackend, name)))
    for name in KEY_ID_OR_ARN:
        setattr(KmsResponse, name, _key_id_or_arn(getattr(KmsResponse, name)))
