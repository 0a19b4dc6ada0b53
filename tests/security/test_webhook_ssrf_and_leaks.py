"""Attacks through the alert webhook: point it at an internal service (loopback, cloud
metadata, private ranges — directly, via DNS, or by rebinding DNS between check and connect),
and read a secret back through failure messages (the URL's token, the receiver's body)."""

from __future__ import annotations

import secrets
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography import x509
from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities
from byok.db import session_scope
from byok.health_messages import AlertRef
from byok.models import AlertDelivery, HealthAlert, Tenant
from byok.settings import Settings
from byok.startup import check_real_mode
from byok.webhooks import WebhookUrlRefused, pin
from tests.security.pki import issue, write_pem

SECRET_BODY = "receiver-secret-" + secrets.token_hex(6)


class Receiver:
    """A loopback HTTP endpoint standing in for an internal service (or a tenant's receiver)."""

    def __init__(self, status: int) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.hits.append(self.headers.get("Host", ""))
                body = f"denied: {SECRET_BODY}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(500)
    yield r
    r.server.shutdown()


def _alert(engine: Engine, url: str) -> AlertRef:
    tid, aid = "tn-" + secrets.token_hex(6), "al-" + secrets.token_hex(6)
    with session_scope(engine) as db:
        db.add(Tenant(id=tid, name=tid, webhook_url=url))
        db.flush()
        db.add(HealthAlert(id=aid, tenant_id=tid, check_id=aid, state="Disabled",
                           title="Key disabled", message="Your key is disabled."))
    return AlertRef(aid)


def _deliver(engine: Engine, settings: Settings, ref: AlertRef, **kw: Any) -> ApplicationError:
    acts = NotifyActivities(engine, settings, **kw)
    with pytest.raises(ApplicationError) as err:
        ActivityEnvironment().run(acts.notify_alert, ref)
    return err.value


def _recorded(engine: Engine, ref: AlertRef) -> list[AlertDelivery]:
    with session_scope(engine) as db:
        return list(db.exec(select(AlertDelivery).where(
            AlertDelivery.alert_id == ref.alert_id)).all())


def test_an_internal_endpoint_is_never_called_in_production(
        engine: Engine, settings: Settings, receiver: Receiver) -> None:
    prod = settings.model_copy(update={"webhook_allow_loopback": False})
    for url in (f"http://127.0.0.1:{receiver.port}/hook",
                f"https://127.0.0.1:{receiver.port}/hook",
                f"https://localhost:{receiver.port}/hook"):
        err = _deliver(engine, prod, _alert(engine, url))
        assert err.type == "WebhookUrlRefused" and err.non_retryable, err
        assert "127.0.0.1" not in err.message and "localhost" not in err.message
    assert receiver.hits == []


@pytest.mark.parametrize(("url", "why"), [
    ("http://hooks.example.com/x", "https"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://10.0.0.7/x", "private"), ("https://192.168.1.1/x", "private"),
    ("https://172.16.0.1/x", "private"), ("https://[::1]/x", "loopback"),
    ("https://[::ffff:127.0.0.1]/x", "loopback"), ("https://[fc00::1]/x", "private"),
    ("https://[fe80::1]/x", "link-local"), ("https://100.64.0.1/x", "public"),
    ("https://0.0.0.0/x", "unspecified"), ("https://224.0.0.1/x", "multicast"),
    ("https://240.0.0.1/x", "reserved"), ("https://user:pw@hooks.example.com/x", "user"),
])
def test_refused_urls_say_why_without_the_url(url: str, why: str) -> None:
    with pytest.raises(WebhookUrlRefused) as err:
        pin(url, allow_loopback=False, resolver=lambda host, port: ["93.184.216.34"])
    assert why in err.value.message and "/x" not in err.value.message


def test_a_name_resolving_to_any_internal_address_is_refused() -> None:
    answers: list[list[str]] = [["10.1.2.3"], ["93.184.216.34", "169.254.169.254"], []]
    for answer in answers:
        with pytest.raises(WebhookUrlRefused) as err:
            pin("https://hooks.example.com/t/secret-token", allow_loopback=False,
                resolver=lambda host, port: answer)  # noqa: B023 - used at once
        assert "hooks.example.com" not in err.value.message
        assert "secret-token" not in err.value.message
    ok = pin("https://hooks.example.com:8443/t?k=v", allow_loopback=False,
             resolver=lambda host, port: ["93.184.216.34"])
    assert ok.url == "https://93.184.216.34:8443/t?k=v"
    assert (ok.host, ok.host_header) == ("hooks.example.com", "hooks.example.com:8443")


def test_dns_rebinding_cannot_redirect_the_request(
        engine: Engine, settings: Settings, receiver: Receiver) -> None:
    """The name answers public for the check, then loopback: the request still goes to the
    address that was checked (connected to by IP), never to the one rebound to."""
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["8.8.8.8"] if len(calls) == 1 else ["127.0.0.1"]

    prod = settings.model_copy(update={"webhook_allow_loopback": False,
                                       "webhook_timeout_seconds": 0.5})
    ref = _alert(engine, f"https://rebind.example:{receiver.port}/hook")
    err = _deliver(engine, prod, ref, resolver=rebinding)
    assert err.type == "WebhookFailed" and not err.non_retryable  # 8.8.8.8 unreachable here
    assert calls == ["rebind.example"]  # resolved once, by us; httpx got an address
    assert receiver.hits == []
    assert "rebind.example" not in err.message and str(receiver.port) not in err.message


def test_failures_name_the_status_never_the_url_or_the_body(
        engine: Engine, settings: Settings, receiver: Receiver) -> None:
    token = "tok-" + secrets.token_hex(8)
    ref = _alert(engine, f"http://127.0.0.1:{receiver.port}/hooks/{token}?key={token}")
    err = _deliver(engine, settings, ref)  # the embedded stack's override: loopback allowed
    assert receiver.hits == [f"127.0.0.1:{receiver.port}"]
    assert "HTTP 500 Internal Server Error" in err.message
    (row,) = _recorded(engine, ref)
    for text in (err.message, row.error or ""):
        assert token not in text and SECRET_BODY not in text and "127.0.0.1" not in text
    closed = Receiver(204)
    closed.server.shutdown()
    closed.server.server_close()  # nothing listens there now
    ref = _alert(engine, f"http://127.0.0.1:{closed.port}/hooks/{token}")
    err = _deliver(engine, settings, ref)
    assert "could not connect" in err.message
    assert token not in err.message and str(closed.port) not in err.message


def test_the_loopback_override_is_refused_on_real_aws(settings: Settings) -> None:
    real = settings.model_copy(update={"aws_endpoint_url": "", "webhook_allow_loopback": True})
    assert any("BYOK_WEBHOOK_ALLOW_LOOPBACK" in p for p in check_real_mode(real, "0.0.0.0"))
    assert not settings.model_copy(update={"aws_endpoint_url": ""}).webhooks_may_use_loopback
    assert settings.webhooks_may_use_loopback  # the embedded stack (tests, demo)


def test_https_to_the_pinned_address_still_checks_the_certificate_for_the_name(
        engine: Engine, settings: Settings, tmp_path: Any) -> None:
    """Connecting by address must not weaken TLS: SNI and the certificate check use the
    URL's host name, so a certificate for another name is refused."""
    ca_key, ca = issue("hooks CA", None, ca=True)
    key, cert = issue("hooks.test", (ca_key, ca.subject), sans=[x509.DNSName("hooks.test")])
    crt_path, key_path = write_pem(tmp_path / "hooks", key, cert)
    ca_path, _ = write_pem(tmp_path / "ca", ca_key, ca)
    receiver = Receiver(204)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(crt_path, key_path)
    sni: list[str | None] = []

    def record_sni(_sock: Any, name: str | None, _ctx: Any) -> None:
        sni.append(name)
    server_ctx.sni_callback = record_sni
    receiver.server.socket = server_ctx.wrap_socket(receiver.server.socket, server_side=True)
    http = httpx.Client(verify=ssl.create_default_context(cafile=str(ca_path)), timeout=5)
    try:
        dev = settings.model_copy(update={"webhook_allow_loopback": True})
        to_localhost = {"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
        ref = _alert(engine, f"https://hooks.test:{receiver.port}/in")
        acts = NotifyActivities(engine, dev, http=http,
                                resolver=lambda host, port: to_localhost[host])
        assert ActivityEnvironment().run(acts.notify_alert, ref).delivered
        assert sni == ["hooks.test"] and receiver.hits == [f"hooks.test:{receiver.port}"]
        wrong = _alert(engine, f"https://other.test:{receiver.port}/in")
        err = _deliver(engine, dev, wrong, http=http,
                       resolver=lambda host, port: to_localhost[host])
        assert err.type == "WebhookFailed" and "other.test" not in err.message
        assert len(receiver.hits) == 1  # the impostor certificate got nothing
    finally:
        http.close()
        receiver.server.shutdown()
