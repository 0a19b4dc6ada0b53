"""localaws: moto's server with fidelity fixes, fault injection and a deletion clock."""

from .accounts import OTHER_ACCOUNT, SERVICE_ACCOUNT, TENANT_ACCOUNT
from .control import LocalAwsControl
from .fixes import apply
from .server import LocalAws

__all__ = [
    "OTHER_ACCOUNT",
    "SERVICE_ACCOUNT",
    "TENANT_ACCOUNT",
    "LocalAws",
    "LocalAwsControl",
    "apply",
]
