"""apply(): patch moto in this process with every localaws fidelity fix, once."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Apply all fixes to moto's classes (process-wide). Idempotent and thread-safe: the
    second and later calls do nothing. Order matters: kms_guard wraps methods kms_fixes sets."""
    global _applied
    with _lock:
        if _applied:
            return
        from . import (
            accounts,
            cfn_fixes,
            consistency,
            kms_deletion,
            kms_fixes,
            kms_guard,
            s3_fixes,
            sns_delivery,
            speed,
            sts_fixes,
        )

        accounts.apply()
        kms_fixes.apply()
        kms_deletion.apply()
        kms_guard.apply()
        consistency.apply()
        sts_fixes.apply()
        cfn_fixes.apply()
        from . import cfn_policies
        cfn_policies.apply()
        sns_delivery.apply()
        s3_fixes.apply()
        speed.apply()
        _applied = True


def reset_state() -> None:
    """Wipe moto's backends (all accounts and regions) and localaws's own state."""
    from moto.moto_api._internal.models import moto_api_backend

    from . import accounts, cfn_requests, clock, consistency, faults, kms_deletion

    moto_api_backend.reset()
    accounts.closed.clear()
    accounts._key_accounts.clear()
    clock.reset()
    faults.clear()
    kms_deletion.reset()
    consistency.reset()
    cfn_requests.reset()
