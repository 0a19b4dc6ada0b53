"""Server-side fault injection and protocol-correct AWS error responses."""

from __future__ import annotations

import json
import random
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.exceptions import HTTPException


@dataclass
class Fault:
    service: str
    operation: str
    error_code: str
    count: int | None = None  # None: use rate (or always, when rate is None too)
    rate: float | None = None
    account: str | None = None
    status: int = 400
    message: str = "Rate exceeded"

    def matches(self, service: str, operation: str, account: str | None) -> bool:
        return (
            self.service.lower() == service.lower()
            and self.operation.lower() == operation.lower()
            and (self.account is None or self.account == account)
        )


_lock = threading.Lock()
_faults: list[Fault] = []


def add(**spec: Any) -> Fault:
    fault = Fault(**spec)
    if fault.count is None and fault.rate is None:
        fault.count = 1
    with _lock:
        _faults.append(fault)
    return fault


def clear() -> None:
    with _lock:
        _faults.clear()


def listed() -> list[dict[str, Any]]:
    with _lock:
        return [asdict(f) for f in _faults]


def take(service: str, operation: str, account: str | None) -> Fault | None:
    """The fault to answer this request with, if any; uses up one of a counted fault."""
    with _lock:
        for fault in _faults:
            if not fault.matches(service, operation, account):
                continue
            if fault.count is not None:
                if fault.count <= 0:
                    continue
                fault.count -= 1
                return fault
            if fault.rate is None or random.random() < fault.rate:
                return fault
    return None


def error_response(
    json_protocol: bool, code: str, message: str, status: int
) -> tuple[int, list[tuple[str, str]], bytes]:
    """AWS's error shapes: JSON protocols use __type; query protocols an XML ErrorResponse."""
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    headers.append(("x-amzn-RequestId", request_id))
    return status, headers, body


class QueryError(HTTPException):
    """An XML (query protocol) error raised inside a moto response method.

    moto's STS exceptions take their status from the service model, which has no
    AccessDenied shape, so they would come out as 400 instead of AWS's 403."""

    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__()
        self.code = status
        self.error_code, self.message = code, message
        self.description = error_response(False, code, message, status)[2].decode()

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("Content-Type", "text/xml")]
