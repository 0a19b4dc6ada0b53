"""KMS model fixes: key ids, multi-region ciphertexts and replicas, deletion windows, the clock."""

from __future__ import annotations

import heapq
import itertools
import json
import re
import threading
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

# The deletion clock's index, so that a request costs O(1) however many keys exist: a heap of
# (deletion date, tie-break, account, region, key id) for every key put in PendingDeletion, and
# the primaries waiting in PendingReplicaDeletion. Entries are checked against the key when they
# come due (a cancelled or rescheduled key leaves a stale entry, which is skipped).
_due: list[tuple[datetime, int, str, str, str]] = []
_waiting: dict[str, tuple[str, str, str]] = {}
_order = itertools.count()
_lock = threading.RLock()


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
    self._validate_cmk_id(self._get_param("KeyId"))  # key id or ARN; an alias is NotFound
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
    track(key)


def track(key: Key) -> None:
    """Index a key the deletion clock must watch (PendingDeletion or PendingReplicaDeletion)."""
    where = (key.account_id, key.region, key.id)
    with _lock:
        if key.key_state == "PendingDeletion" and key.deletion_date is not None:
            heapq.heappush(_due, (key.deletion_date, next(_order), *where))
        elif key.key_state == "PendingReplicaDeletion":
            _waiting[key.arn] = where


def _find(account: str, region: str, key_id: str) -> tuple[KmsBackend, Key] | None:
    # dict.get, not [...]: moto's BackendDict creates missing accounts and regions on lookup.
    regions = dict.get(kms_backends, account)
    backend = dict.get(regions, region) if regions is not None else None
    key = backend.keys.get(key_id) if backend is not None else None
    return (backend, key) if backend is not None and key is not None else None


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


def _all_keys() -> list[Key]:
    return [
        key
        for regions in list(kms_backends.values())
        for backend in list(regions.values())
        for key in list(backend.keys.values())
    ]


def sweep(full: bool = False) -> None:
    """Delete every key whose deletion date has passed on localaws's clock; then start the
    window of primaries whose last replica just went (from that replica's deletion date).

    Called before every KMS request: O(1) unless a deletion date has passed. full=True (when
    the clock is advanced) first re-indexes every key, in case one was put in PendingDeletion
    by a path that did not go through schedule()."""
    if full:
        with _lock:
            _due.clear()
            _waiting.clear()
            for key in _all_keys():
                track(key)
    if not full and (not _due or _due[0][0] > clock.now()):
        return
    with _lock:
        now = clock.now()
        last_gone: dict[str, datetime] = {}
        look_at_waiting = full
        while True:
            while _due and _due[0][0] <= now:
                date, _, account, region, key_id = heapq.heappop(_due)
                found = _find(account, region, key_id)
                if found is None:
                    continue
                backend, key = found
                if key.key_state != "PendingDeletion" or key.deletion_date != date:
                    continue  # cancelled or rescheduled since: a newer entry stands for it
                _delete(backend, key)
                if key.multi_region:
                    primary = key.multi_region_configuration["PrimaryKey"]["Arn"]
                    last_gone[primary] = max(last_gone.get(primary, date), date)
                    look_at_waiting = True
            if not look_at_waiting:
                return
            look_at_waiting = False
            for arn, place in list(_waiting.items()):
                found = _find(*place)
                if found is None or found[1].key_state != "PendingReplicaDeletion":
                    del _waiting[arn]
                    continue
                key = found[1]
                if key.multi_region_configuration["ReplicaKeys"]:
                    continue
                del _waiting[arn]
                # AWS: the primary's waiting period begins when its last replica is deleted.
                since = last_gone.get(arn, now)
                key.key_state = "PendingDeletion"
                key.deletion_date = since + timedelta(days=key.pending_window_in_days)  # type: ignore[attr-defined]
                track(key)  # already due if the clock jumped past it: the next pass deletes it


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


def reset() -> None:
    deleted_arns.clear()
    with _lock:
        _due.clear()
        _waiting.clear()


def apply() -> None:
    kms_models.generate_key_id = generate_key_id
    kms_models.generate_private_key = LazyPrivateKey  # type: ignore[assignment]
    KmsBackend.create_key = _create_key(KmsBackend.create_key)  # type: ignore[method-assign]
    KmsResponse._validate_cmk_id = validate_cmk_id  # type: ignore[method-assign]
    kms_utils._serialize_ciphertext_blob = _serialize
    kms_utils._deserialize_ciphertext_blob = _deserialize
    KmsBackend.replicate_key = replicate_key  # type: ignore[method-assign]
    KmsBackend.schedule_key_deletion = schedule_key_deletion  # type: ignore[method-assign]
    KmsResponse.replicate_key = replicate_key_response  # type: ignore[method-assign]
    KmsResponse.schedule_key_deletion = schedule_key_deletion_response  # type: ignore[method-assign]
    KmsResponse.cancel_key_deletion = cancel_key_deletion_response  # type: ignore[method-assign]
    for name in ("enable_key", "disable_key", "cancel_key_deletion"):
        setattr(KmsBackend, name, _by_raw_id(getattr(KmsBackend, name)))
    for name in KEY_ID_OR_ARN:
        setattr(KmsResponse, name, _key_id_or_arn(getattr(KmsResponse, name)))
