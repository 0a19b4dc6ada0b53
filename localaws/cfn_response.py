"""A response PUT to a custom resource's ResponseURL, checked as CloudFormation checks it (S3's
answers for a bad or expired presigned URL); what it does to the stack is cfn_requests'."""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from . import cfn_requests, clock
from .cfn_requests import RESPONSE_PATH, Request

MAX_RESPONSE_BYTES = 4096
Response = tuple[int, list[tuple[str, str]], bytes]


def _problem(request: Request, body: dict[str, Any]) -> str:
    """Why a response object is invalid, or ''."""
    status = body.get("Status")
    if status not in ("SUCCESS", "FAILED"):
        return "Invalid response object: Status must be SUCCESS or FAILED"
    res = request.resource
    for name, expected in (("RequestId", request.request_id), ("StackId", res.stack_id),
                           ("LogicalResourceId", res.logical_id)):
        if body.get(name) != expected:
            return f"Invalid response object: {name} does not match the request"
    if status == "SUCCESS" and not body.get("PhysicalResourceId"):
        return "Invalid PhysicalResourceId"
    if "Data" in body and not isinstance(body["Data"], dict):
        return "Invalid response object: Data must be an object"
    return ""


def handle(method: str, path: str, query: str, body: bytes) -> Response:
    """A PUT to a ResponseURL (S3's answers for a bad or expired presigned URL)."""
    request_id = path[len(RESPONSE_PATH):].strip("/")
    args = {k: v[0] for k, v in parse_qs(query).items()}
    with cfn_requests.lock:
        request = cfn_requests.state.requests.get(request_id)
        try:
            expires = int(args.get("Expires", ""))
        except ValueError:
            expires = -1
        if request is None or not hmac.compare_digest(
                args.get("X-Amz-Signature", ""), cfn_requests.sign(request_id, expires)):
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                             "does not match the signature you provided.")
        if method != "PUT":
            return _s3_error(405, "MethodNotAllowed", "The specified method is not allowed "
                             "against this resource.")
        if clock.now() > request.url_expires:
            return _s3_error(403, "AccessDenied", "Request has expired")
        request.responses += 1
        entry: dict[str, Any] = {"request_id": request_id, "request_type": request.request_type,
                                 "stack_id": request.resource.stack_id, "used": False}
        cfn_requests.state.log.append(entry)
        if request.state != "pending":
            return 200, [], b""  # S3 stores it; CloudFormation has stopped listening
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        entry["response"] = doc
        stack = cfn_requests.stack_of(request)
        if stack is None:
            return 200, [], b""
        entry["used"] = True
        if len(body) > MAX_RESPONSE_BYTES:
            cfn_requests.fail(request, stack, "Response object is too long.")
        elif not isinstance(doc, dict):
            cfn_requests.fail(request, stack,
                              "Invalid response object: the body is not a JSON object")
        elif problem := _problem(request, doc):
            cfn_requests.fail(request, stack, problem)
        elif doc["Status"] == "SUCCESS":
            cfn_requests.complete(request, stack, doc)
        else:
            reason = doc.get("Reason") or "See the details in CloudWatch Log"
            cfn_requests.fail(request, stack, "Received response status [FAILED] from custom "
                              f"resource. Message returned: {reason} (RequestId: {request_id})")
    return 200, [], b""


def _s3_error(status: int, code: str, message: str) -> Response:
    xml = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
           f"<Message>{message}</Message></Error>")
    return status, [("Content-Type", "application/xml")], xml.encode()
