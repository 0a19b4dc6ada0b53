"""Where alerts may be sent: https only, to public addresses only, checked after DNS resolution
and pinned (the caller connects to the address checked here, so a DNS answer that changes
between check and connect — rebinding — cannot send the request to an internal service)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit, urlunsplit

from byok.errors import ByokError

Resolver = Callable[[str, int], Sequence[str]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookUrlRefused(ByokError):
    """The webhook URL is not allowed; retrying cannot help. The message never names the URL
    (its path or query may carry the receiver's secret token)."""

    code = "WEBHOOK_URL_REFUSED"
    retryable = False


@dataclass(frozen=True)
class PinnedUrl:
    """The request to make: `url` has the checked address in place of the host name; `host`
    is what TLS checks (SNI and the certificate), `host_header` the Host header."""

    url: str
    host: str
    host_header: str
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _why_not(ip: IP, allow_loopback: bool) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    for test, what in ((ip.is_link_local, "a link-local address (cloud metadata lives there)"),
                       (ip.is_multicast, "a multicast address"),
                       (ip.is_unspecified, "an unspecified address"),
                       (ip.is_reserved, "a reserved address"),
                       (ip.is_private, "a private address"),
                       (not ip.is_global, "not a public address")):
        if test:
            return what
    return None


def pin(url: str, *, allow_loopback: bool, resolver: Resolver = system_resolver) -> PinnedUrl:
    """Check `url` and resolve it once; every address it resolves to must be public.
    allow_loopback (the embedded stack only) also admits http and loopback addresses."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_loopback and parts.scheme == "http"):
        raise WebhookUrlRefused("the webhook URL must use https")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise WebhookUrlRefused("the webhook URL has an invalid port") from None
    if not host or parts.username is not None or parts.password is not None:
        raise WebhookUrlRefused("the webhook URL needs a host name and no user:password@")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    try:
        answer = [str(literal)] if literal else resolver(host, port)
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in answer]
    except (OSError, UnicodeError, ValueError):
        raise WebhookUrlRefused("the webhook host name does not resolve") from None
    if not addresses:
        raise WebhookUrlRefused("the webhook host name does not resolve")
    for ip in addresses:  # all of them: a mixed answer is how rebinding starts
        why = _why_not(ip, allow_loopback)
        if why:
            raise WebhookUrlRefused(f"the webhook host resolves to {why}; alerts go only to "
                                    "public https endpoints")
    ip = addresses[0]
    netloc = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    return PinnedUrl(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                     host, host if parts.port is None else f"{host}:{parts.port}", str(ip))


def status_reason(status: int) -> str:
    """"HTTP 503 Service Unavailable": the status and its standard phrase, never the body."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"
