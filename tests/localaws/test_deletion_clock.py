"""The deletion clock deletes a key exactly when its deletion date passes, however it is indexed:
before any request can see it, never earlier, and not from a stale (cancelled) schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moto.kms.models import kms_backends

from localaws import TENANT_ACCOUNT, LocalAws, clock

from .conftest import Target, error_code

MINUTE = timedelta(minutes=1)


def _state(kms: Any, key_id: str) -> str | None:
    code = error_code(kms.describe_key, KeyId=key_id)
    if code is not None:
        return code
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])


def test_each_key_is_deleted_exactly_when_its_date_passes(local: Target) -> None:
    """The clock moves in process, without the control endpoint's sweep: the request itself
    must find the passed deletion date."""
    kms = local.client("kms", TENANT_ACCOUNT)
    keys = {days: kms.create_key()["KeyMetadata"]["KeyId"] for days in (9, 7, 8)}
    keep = kms.create_key()["KeyMetadata"]["KeyId"]
    for days, key_id in keys.items():
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    clock.advance(timedelta(days=7) - MINUTE)
    assert {d: _state(kms, k) for d, k in keys.items()} == dict.fromkeys(keys, "PendingDeletion")
    for days in (7, 8, 9):
        clock.advance(2 * MINUTE)  # one minute past this key's date
        assert _state(kms, keys[days]) == "NotFoundException"
        later = [d for d in keys if d > days]
        assert {d: _state(kms, keys[d]) for d in later} == dict.fromkeys(later, "PendingDeletion")
        clock.advance(timedelta(days=1) - 2 * MINUTE)  # one minute before the next one's
    assert _state(kms, keep) == "Enabled"


def test_a_cancelled_then_rescheduled_key_waits_for_its_new_date(
    local: Target, server: LocalAws
) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    server.advance_clock(days=3)
    kms.cancel_key_deletion(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    server.advance_clock(days=5)  # past the first (cancelled) date
    assert _state(kms, key_id) == "PendingDeletion"
    server.advance_clock(days=5, seconds=60)  # past the second
    assert _state(kms, key_id) == "NotFoundException"


def test_a_cancelled_key_is_never_deleted(local: Target, server: LocalAws) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    server.advance_clock(days=31)
    assert _state(kms, key_id) == "Disabled"


def test_primary_window_runs_from_its_last_replicas_deletion_date(
    local: Target, server: LocalAws
) -> None:
    """AWS: the primary's waiting period begins when its last replica is deleted, also when the
    clock jumps past both dates at once."""
    kms = local.client("kms", TENANT_ACCOUNT)
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    replica = local.client("kms", TENANT_ACCOUNT, "eu-west-1")
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    replica.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    server.advance_clock(days=13)  # replica gone at day 7; primary due at day 14
    assert _state(replica, key["KeyId"]) == "NotFoundException"
    assert _state(kms, key["KeyId"]) == "PendingDeletion"
    server.advance_clock(days=1, seconds=60)
    assert _state(kms, key["KeyId"]) == "NotFoundException"

    other = kms.create_key(MultiRegion=True)["KeyMetadata"]
    kms.replicate_key(KeyId=other["KeyId"], ReplicaRegion="eu-west-1")
    kms.schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)
    replica.schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)
    server.advance_clock(days=15)  # both dates passed in one jump
    assert _state(kms, other["KeyId"]) == "NotFoundException"


def test_a_key_put_in_pending_deletion_behind_localaws_back_is_still_deleted(
    local: Target, server: LocalAws
) -> None:
    """Advancing the clock re-indexes every key, so a state set directly on moto's model (not
    through ScheduleKeyDeletion) is honoured too."""
    kms = local.client("kms", TENANT_ACCOUNT)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    key = kms_backends[TENANT_ACCOUNT]["us-east-1"].keys[key_id]
    key.key_state, key.enabled = "PendingDeletion", False
    key.deletion_date = clock.now() + timedelta(days=1)
    server.advance_clock(days=1, seconds=60)
    assert _state(kms, key_id) == "NotFoundException"
