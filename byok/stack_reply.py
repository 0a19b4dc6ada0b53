"""PUT a custom-resource response to its ResponseURL (the one HTTP call of the protocol)."""

from __future__ import annotations

import httpx

from byok.custom_resource import ReplyInput, response_body, response_url_allowed
from byok.errors import AwsError, InvalidInput


class ReplyRefused(AwsError):
    """The ResponseURL refused our answer for good (expired or forged presigned URL)."""

    code = "STACK_REPLY_REFUSED"


class ReplyUnreachable(AwsError):
    """The ResponseURL could not be reached or failed on its side: worth retrying."""

    code = "STACK_REPLY_UNREACHABLE"
    retryable = True


def send(reply: ReplyInput, *, local_endpoint: str = "", timeout: float = 30.0) -> int:
    """PUT the response; returns the HTTP status. A 4xx is permanent (ReplyRefused), a 5xx or
    a network failure retryable (ReplyUnreachable)."""
    url = reply.request.response_url
    if not response_url_allowed(url, local_endpoint):
        raise InvalidInput("the request's ResponseURL is not a CloudFormation response URL",
                           field="ResponseURL")
    body = response_body(reply.request, reply.status, reply.reason, reply.data)
    try:
        # Content-Type must be empty: the URL is presigned without one.
        resp = httpx.put(url, content=body, headers={"Content-Type": ""}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ReplyUnreachable("the ResponseURL could not be reached: "
                               f"{type(exc).__name__}") from None
    if 400 <= resp.status_code < 500:
        raise ReplyRefused(f"the ResponseURL refused the answer with HTTP {resp.status_code} "
                           "(the request timed out or its URL expired)")
    if resp.status_code >= 500:
        raise ReplyUnreachable(f"the ResponseURL answered HTTP {resp.status_code}")
    return resp.status_code
