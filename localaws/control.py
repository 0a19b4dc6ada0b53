"""LocalAwsControl: HTTP client for the /_localaws/ control endpoints of a running server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class LocalAwsControl:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is ours, http only
            f"{self.url}/_localaws/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def ping(self) -> bool:
        try:
            return bool(self._call("GET", "ping").get("ok"))
        except (OSError, ValueError):
            return False

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def inject_fault(
        self,
        service: str,
        operation: str,
        error_code: str = "ThrottlingException",
        count: int | None = None,
        rate: float | None = None,
        account: str | None = None,
        status: int = 400,
        message: str = "Rate exceeded",
    ) -> None:
        self._call(
            "POST",
            "faults",
            {
                "service": service,
                "operation": operation,
                "error_code": error_code,
                "count": count,
                "rate": rate,
                "account": account,
                "status": status,
                "message": message,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "faults"))

    def advance_clock(self, days: float = 0, hours: float = 0, seconds: float = 0) -> str:
        """Move localaws's now forward; returns the new now (ISO 8601, UTC)."""
        body = {"days": days, "hours": hours, "seconds": seconds}
        return str(self._call("POST", "clock/advance", body)["now"])

    def consistency(self, **delays: float) -> dict[str, float]:
        """Set localaws's delays, in seconds: replica_creating_seconds (a new replica stays
        Creating), role_seconds, key_seconds, replica_seconds (a new role, key or replica
        answers AccessDenied / NotFound). Returns all of them."""
        return dict(self._call("POST", "consistency", delays))

    def disable_region(self, account: str, region: str) -> None:
        """Mark an opt-in region as not enabled in the account: its credentials are refused
        there and ReplicateKey into it fails."""
        self._call("POST", "regions/disable", {"account": account, "region": region})

    def close_account(self, account: str) -> None:
        self._call("POST", "accounts/close", {"account": account})

    def cfn_requests(self) -> list[dict[str, Any]]:
        """Every custom-resource request sent so far (pending or settled)."""
        return list(self._call("GET", "cfn/requests"))

    def cfn_responses(self) -> list[dict[str, Any]]:
        """Every response PUT to a ResponseURL, in order; `used` when CloudFormation read it."""
        return list(self._call("GET", "cfn/responses"))
