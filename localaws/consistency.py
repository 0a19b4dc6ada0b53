"""AWS's eventual consistency and slow replicas, on demand: a replica stays Creating for a
while; a new role, key or replica answers AccessDenied/NotFound for a while; opt-in regions
that an account has not enabled refuse its credentials."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from moto.iam.models import IAMBackend
from moto.kms.models import Key, KmsBackend, kms_backends

from . import clock, faults

DEFAULT_CREATING_SECONDS = float(os.environ.get("LOCALAWS_REPLICA_CREATING_SECONDS", "2"))

_lock = threading.Lock()
# How long a replica stays Creating, and how long a new role/key/replica is invisible.
settings: dict[str, float] = {}
_creating: dict[tuple[str, str, str], datetime] = {}  # (account, region, key id) -> ready at
_born: dict[tuple[str, ...], datetime] = {}  # ("role", arn) / ("key", region, id) -> created
# Opt-in regions an account has not enabled: (account, region).
disabled_regions: set[tuple[str, str]] = set()


def reset() -> None:
    with _lock:
        settings.clear()
        settings.update(replica_creating_seconds=DEFAULT_CREATING_SECONDS, role_seconds=0,
                        key_seconds=0, replica_seconds=0)
        _creating.clear()
        _born.clear()
        disabled_regions.clear()


reset()


def configure(body: dict[str, Any]) -> dict[str, float]:
    """Control endpoint: set any of the delays (seconds); answers the current ones."""
    with _lock:
        for name, value in body.items():
            if name not in settings:
                raise KeyError(f"unknown consistency setting {name!r}")
            if float(value) < 0:
                raise ValueError(f"{name} must not be negative")
            settings[name] = float(value)
        return dict(settings)


def replica_created(replica: Key) -> None:
    """Called by ReplicateKey: the replica is Creating until its time is up."""
    now = clock.now()
    with _lock:
        wait = settings["replica_creating_seconds"]
        _born[("key", replica.region, replica.id)] = _born[("replica", replica.region,
                                                           replica.id)] = now
        if wait > 0:
            replica.key_state, replica.enabled = "Creating", False
            _creating[(replica.account_id, replica.region, replica.id)] = \
                now + timedelta(seconds=wait)


def sweep() -> None:
    """Replicas whose time is up become Enabled (checked on every KMS request)."""
    now = clock.now()
    with _lock:
        due = [k for k, at in _creating.items() if at <= now]
        for account, region, key_id in due:
            del _creating[(account, region, key_id)]
            regions = dict.get(kms_backends, account)
            backend = dict.get(regions, region) if regions is not None else None
            key = backend.keys.get(key_id) if backend is not None else None
            if key is not None and key.key_state == "Creating":
                key.key_state, key.enabled = "Enabled", True


def _young(kind: tuple[str, ...], seconds: float) -> bool:
    born = _born.get(kind)
    return seconds > 0 and born is not None and clock.now() - born < timedelta(seconds=seconds)


def check(service: str, operation: str, region: str, account: str | None, body: bytes,
          json_protocol: bool) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The answer AWS gives a request that eventual consistency or an opt-in region refuses."""
    if account is not None and (account, region) in disabled_regions and service != "sts":
        return faults.error_response(json_protocol, "UnrecognizedClientException" if
                                     json_protocol else "InvalidClientTokenId",
                                     "The security token included in the request is invalid.",
                                     403)
    with _lock:
        if service == "sts" and operation == "AssumeRole":
            arn = (parse_qs(body.decode("utf-8", "replace")).get("RoleArn") or [""])[0]
            if _young(("role", arn), settings["role_seconds"]):
                return faults.error_response(
                    False, "AccessDenied", f"User is not authorized to perform: sts:AssumeRole "
                    f"on resource: {arn}", 403)
        elif service == "kms" and json_protocol:
            try:
                key_id = str(json.loads(body or b"{}").get("KeyId") or "")
            except ValueError:
                return None
            key_id = key_id.rsplit("key/", 1)[-1]
            replica = ("replica", region, key_id) in _born
            lag = settings["replica_seconds"] if replica else settings["key_seconds"]
            if _young(("key", region, key_id), lag):
                return faults.error_response(True, "NotFoundException",
                                             f"Key '{key_id}' does not exist", 400)
    return None


def _create_role(original: Any) -> Any:
    def create_role(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        role = original(self, *args, **kwargs)
        with _lock:
            _born[("role", role.arn)] = clock.now()
        return role
    return create_role


def _create_key(original: Any) -> Any:
    def create_key(self: KmsBackend, *args: Any, **kwargs: Any) -> Key:
        key = original(self, *args, **kwargs)
        with _lock:
            _born[("key", self.region_name, key.id)] = clock.now()
        return key
    return create_key


def apply() -> None:
    IAMBackend.create_role = _create_role(IAMBackend.create_role)  # type: ignore[method-assign]
    KmsBackend.create_key = _create_key(KmsBackend.create_key)  # type: ignore[method-assign]
