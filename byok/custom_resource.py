"""The CloudFormation custom-resource protocol: the request our stack's Notify resource sends
(through SNS and SQS) and the response we PUT to its ResponseURL. Pure, standard library only."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REQUEST_TYPES = ("Create", "Update", "Delete")
# CloudFormation reads at most 4096 bytes of a response; a Reason is cut well below that.
MAX_REASON = 1000
STACK_ARN = re.compile(
    r"^arn:aws[a-z-]*:cloudformation:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stack/.+$")
# The presigned S3 URL CloudFormation hands out, e.g.
# https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/...
# https://cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com/...
AWS_RESPONSE_HOST = re.compile(
    r"^cloudformation-custom-resource-response-[a-z0-9]+\.s3[.-]([a-z0-9-]+\.)?"
    r"amazonaws\.com(\.cn)?$")


class MalformedRequest(ValueError):
    """A queue message that is not a custom-resource request we can read."""


@dataclass
class StackRequest:
    """One custom-resource request, as CloudFormation sent it."""

    request_type: str
    request_id: str
    response_url: str
    stack_id: str
    logical_resource_id: str
    physical_resource_id: str
    account_id: str  # from the StackId, which CloudFormation sets (not the tenant)
    region: str
    properties: dict[str, str] = field(default_factory=dict)
    published_at: str = ""  # the SNS notification's Timestamp (ISO 8601): when it was sent


def parse_message(body: str) -> StackRequest:
    """The request inside one SQS message body (an SNS envelope, or raw delivery)."""
    try:
        doc = json.loads(body)
        published = ""
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
            published = str(doc.get("Timestamp") or "")
            doc = json.loads(doc["Message"])
    except (ValueError, TypeError):
        raise MalformedRequest("the message is not JSON") from None
    if not isinstance(doc, dict):
        raise MalformedRequest("the message is not a JSON object")
    missing = [k for k in ("RequestType", "RequestId", "ResponseURL", "StackId",
                           "LogicalResourceId") if not isinstance(doc.get(k), str) or not doc[k]]
    if missing:
        raise MalformedRequest(f"the request lacks {', '.join(missing)}")
    if doc["RequestType"] not in REQUEST_TYPES:
        raise MalformedRequest(f"unknown RequestType {doc['RequestType']!r}")
    stack = STACK_ARN.fullmatch(doc["StackId"])
    if stack is None:
        raise MalformedRequest("the StackId is not a CloudFormation stack ARN")
    props = doc.get("ResourceProperties")
    if not isinstance(props, dict):
        raise MalformedRequest("the request lacks ResourceProperties")
    return StackRequest(
        request_type=doc["RequestType"], request_id=doc["RequestId"],
        response_url=doc["ResponseURL"], stack_id=doc["StackId"],
        logical_resource_id=doc["LogicalResourceId"],
        physical_resource_id=str(doc.get("PhysicalResourceId") or ""),
        account_id=stack["account"], region=stack["region"],
        properties={str(k): str(v) for k, v in props.items() if k != "ServiceToken"},
        published_at=published)


def response_url_allowed(url: str, local_endpoint: str = "") -> bool:
    """Only CloudFormation's presigned S3 URLs (or the local stand-in's) are ever PUT to: a
    forged request must not make us send requests anywhere else."""
    if local_endpoint and url.startswith(local_endpoint.rstrip("/") + "/"):
        return True
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(AWS_RESPONSE_HOST.fullmatch(parts.hostname or ""))


def physical_id(request: StackRequest) -> str:
    # Stable per stack: an Update keeps it, so CloudFormation never sees a replacement.
    return request.physical_resource_id or f"byok-vault-notify-{request.request_id[:32]}"


def response_body(request: StackRequest, status: str, reason: str = "",
                  data: dict[str, str] | None = None) -> bytes:
    """The JSON document CloudFormation expects on the ResponseURL."""
    if status not in ("SUCCESS", "FAILED"):
        raise ValueError(f"status must be SUCCESS or FAILED, not {status!r}")
    doc: dict[str, Any] = {
        "Status": status, "Reason": reason[:MAX_REASON], "PhysicalResourceId": physical_id(request),
        "StackId": request.stack_id, "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id, "NoEcho": False,
        "Data": data or {},
    }
    return json.dumps(doc).encode()


def callback_payload(request: StackRequest) -> dict[str, str]:
    """The callback fields the enablement rules read (byok.enablement.accept_callback)."""
    return {"request_type": request.request_type, **request.properties}


@dataclass
class ReplyInput:
    request: StackRequest
    status: str  # SUCCESS | FAILED
    reason: str = ""
    data: dict[str, str] = field(default_factory=dict)
