"""The KMS deletion clock: deletion windows as AWS keeps them, and keys really deleted
once their date passes on localaws's clock."""

from __future__ import annotations

import heapq
import itertools
import json
import threading
from datetime import datetime, timedelta
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.kms.models import Key, KmsBackend, kms_backends
from moto.kms.responses import KmsResponse

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


def reset() -> None:
    deleted_arns.clear()
    with _lock:
        _due.clear()
        _waiting.clear()


def apply() -> None:
    KmsBackend.schedule_key_deletion = schedule_key_deletion  # type: ignore[method-assign]
    KmsResponse.schedule_key_deletion = schedule_key_deletion_response  # type: ignore[method-assign]
