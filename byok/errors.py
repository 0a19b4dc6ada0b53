"""The byok-vault exception tree; every error the product raises is a ByokError.

ByokError                       code: a stable UPPER_SNAKE string shown to tenants
├── InvalidSettings             a BYOK_ variable is wrong (names the variable)
├── InvalidInput                bad input from a user (names the field)
├── NotFound                    an unknown tenant, backup, ... (also other tenants' things)
│   └── NotYetRecorded          retryable: a run started before its rows were committed
├── Conflict                    a duplicate name, a second enable, a frozen binding
├── Unauthorized                a wrong, expired or used token or API key
├── TooLarge                    a body over its limit (an upload over BYOK_UPLOAD_MAX_BYTES)
├── AuditChainBroken            the audit hash chain does not verify
├── AwsError                    a failure talking to AWS, mapped once from botocore
│   ├── Throttled               retryable
│   ├── AccessDenied            role or key policy refuses us
│   ├── RoleNotAssumable        AssumeRole refused (trust, ExternalId, role gone)
│   └── KeyUnusable             the key exists but cannot be used as required
│       (codes: KEY_DISABLED, KEY_PENDING_DELETION, KEY_DELETED, KEY_IS_REPLICA, ...)
└── envelope errors             (byok.envelope.errors) tampering, truncation, wrong key
"""

from __future__ import annotations


class ByokError(Exception):
    """Root of every byok-vault error; `code` is stable, `message` is for people."""

    code = "BYOK_ERROR"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class InvalidSettings(ByokError):
    code = "INVALID_SETTINGS"


class InvalidInput(ByokError):
    code = "INVALID_INPUT"


class NotFound(ByokError):
    code = "NOT_FOUND"


class NotYetRecorded(NotFound):
    """An enablement's workflow starts before its token is committed (so a failed start
    commits nothing); its first step retries until the row is there."""

    code = "NOT_YET_RECORDED"
    retryable = True


class Conflict(ByokError):
    code = "CONFLICT"


class Unauthorized(ByokError):
    code = "UNAUTHORIZED"


class TooLarge(ByokError):
    code = "PAYLOAD_TOO_LARGE"


class AuditChainBroken(ByokError):
    code = "AUDIT_CHAIN_BROKEN"


class AwsError(ByokError):
    code = "AWS_ERROR"


class Throttled(AwsError):
    code = "THROTTLED"
    retryable = True


class AccessDenied(AwsError):
    code = "ACCESS_DENIED"


class RoleNotAssumable(AwsError):
    code = "ROLE_NOT_ASSUMABLE"


class KeyUnusable(AwsError):
    code = "KEY_UNUSABLE"


def error_class(name: str) -> type[ByokError]:
    """Find an error class by name (ApplicationError.type carries it across Temporal)."""
    for cls in _all_subclasses(ByokError):
        if cls.__name__ == name:
            return cls
    return ByokError


def _all_subclasses(cls: type[ByokError]) -> list[type[ByokError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out
