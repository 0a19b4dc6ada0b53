"""KMS model fixes: key ids, multi-region ciphertexts and replicas, deletion windows, the clock."""

from __future__ import annotations

import json
import re
from copy import copy
from datetime import datetime, timedelta
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.kms import models as kms_models
from moto.kms import utils as kms_utils
from moto.kms.exceptions import NotFoundException
from moto.kms.models import Key, KmsBackend, kms_backends
from moto.kms.responses import KmsResponse
from moto.moto_api._internal import mock_random

from . import clock

PENDING = ("PendingDeletion", "PendingReplicaDeletion")

# ARNs of keys whose deletion date passed: they answer NotFoundException, not AccessDenied.
deleted_arns: set[str] = set()


# Real key ids: a UUID for single-region keys, mrk- and 32 lowercase hex digits for multi-region.
_RAW_KEY_ID = re.compile(
    r"(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    re.IGNORECASE,
)


def generate_key_id(multi_region: bool = False) -> str:
    # Stock moto gives multi-region keys "mrk-" + a dashed UUID, which real ids never are.
    key = mock_random.uuid4()
    return f"mrk-{key.hex}" if multi_region else str(key)


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
    return replica


def replicate_key_response(self: KmsResponse) -> str:
    policy = self._get_param("Policy")
    replica = self.kms_backend.replicate_key(  # type: ignore[call-arg]
        self._get_param("KeyId"), self._get_param("ReplicaRegion"), policy
    )
    return json.dumps(
        {"ReplicaKeyMetadata": replica.to_dict()["KeyMetadata"], "ReplicaPolicy": replica.policy}
    )


def schedule(key: Key, days: int) -> None:
    """Real KMS: a primary with replicas waits in PendingReplicaDeletion, its window not started."""
    key.enabled = False
    key.pending_window_in_days = days  # type: ignore[attr-defined]
    replicas = (
        key.multi_region and key.multi_region_configuration["MultiRegionKeyType"] == "PRIMARY"
    )
    if replicas and key.multi_region_configuration["ReplicaKeys"]:
        key.key_state, key.deletion_date = "PendingReplicaDeletion", None
    else:
        key.key_state, key.deletion_date = "PendingDeletion", clock.now() + timedelta(days=days)


def schedule_key_deletion(self: KmsBackend, key_id: str, pending_window_in_days: int) -> Any:
    key = self.keys[self.get_key_id(key_id)]
    schedule(key, pending_window_in_days)
    return unix_time(key.deletion_date) if key.deletion_date else None


def schedule_key_deletion_response(self: KmsResponse) -> str:
    days = self._get_param("PendingWindowInDays")
    days = 30 if days is None else int(days)
    for bad, bound in (
        (days < 7, "greater than or equal to 7"),
        (days > 30, "less than or equal to 30"),
    ):
        if bad:
            raise JsonRESTError(
                "ValidationException",
                f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' "
                f"failed to satisfy constraint: Member must have value {bound}",
            )
    self._validate_cmk_id(self._get_param("KeyId"))
    key = self.kms_backend.keys[self.kms_backend.get_key_id(self._get_param("KeyId"))]
    self.kms_backend.schedule_key_deletion(key.id, days)
    body: dict[str, Any] = {
        "KeyId": key.arn,
        "KeyState": key.key_state,
        "PendingWindowInDays": days,
    }
    if key.deletion_date:
        body["DeletionDate"] = unix_time(key.deletion_date)
    return json.dumps(body)


def _delete(backend: KmsBackend, key: Key) -> None:
    backend.delete_key(key.id)
    deleted_arns.add(key.arn)
    if key.multi_region:
        replicas = key.multi_region_configuration["ReplicaKeys"]
        replicas[:] = [r for r in replicas if r["Arn"] != key.arn]


def sweep() -> None:
    """Delete every key whose deletion date has passed on localaws's clock; then start the
    window of primaries whose last replica just went (from that replica's deletion date)."""
    now = clock.now()
    last_gone: dict[str, datetime] = {}
    for regions in list(kms_backends.values()):
        for backend in list(regions.values()):
            for key in list(backend.keys.values()):
                if (
                    key.key_state == "PendingDeletion"
                    and key.deletion_date
                    and key.deletion_date <= now
                ):
                    _delete(backend, key)
                    if key.multi_region:
                        primary = key.multi_region_configuration["PrimaryKey"]["Arn"]
                        last_gone[primary] = max(last_gone.get(primary, now), key.deletion_date)
    started = False
    for regions in list(kms_backends.values()):
        for backend in list(regions.values()):
            for key in list(backend.keys.values()):
                replicas = key.multi_region and key.multi_region_configuration["ReplicaKeys"]
                if key.key_state == "PendingReplicaDeletion" and not replicas:
                    since = last_gone.get(key.arn, now)
                    key.key_state = "PendingDeletion"
                    key.deletion_date = since + timedelta(days=key.pending_window_in_days)  # type: ignore[attr-defined]
                    started = True
    if started:
        sweep()


def reset() -> None:
    deleted_arns.clear()


def apply() -> None:
    kms_models.generate_key_id = generate_key_id
    KmsBackend.create_key = _create_key(KmsBackend.create_key)  # type: ignore[method-assign]
    KmsResponse._validate_cmk_id = validate_cmk_id  # type: ignore[method-assign]
    kms_utils._serialize_ciphertext_blob = _serialize
    kms_utils._deserialize_ciphertext_blob = _deserialize
    KmsBackend.replicate_key = replicate_key  # type: ignore[method-assign]
    KmsBackend.schedule_key_deletion = schedule_key_deletion  # type: ignore[method-assign]
    KmsResponse.replicate_key = replicate_key_response  # type: ignore[method-assign]
    KmsResponse.schedule_key_deletion = schedule_key_deletion_response  # type: ignore[method-assign]
