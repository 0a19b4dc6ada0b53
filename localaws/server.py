"""The localaws WSGI app (control endpoints, faults, closed accounts, then moto) and LocalAws."""

from __future__ import annotations

import io
import json
import socket
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import BaseWSGIServer, make_server

from . import (
    accounts,
    authn,
    cfn_custom,
    cfn_requests,
    cfn_response,
    clock,
    consistency,
    faults,
    fixes,
    gate,
    kms_deletion,
    sns_delivery,
)
from .control import LocalAwsControl

Response = tuple[int, list[tuple[str, str]], bytes]


def _control(method: str, path: str, body: dict[str, Any]) -> Response:
    result: Any = {"ok": True}
    if path == "ping":
        pass
    elif path == "reset" and method == "POST":
        fixes.reset_state()
    elif path == "faults" and method == "POST":
        faults.add(**body)
    elif path == "faults" and method == "DELETE":
        faults.clear()
    elif path == "faults" and method == "GET":
        result = faults.listed()
    elif path == "clock/advance" and method == "POST":
        delta = timedelta(
            days=body.get("days", 0), hours=body.get("hours", 0), seconds=body.get("seconds", 0)
        )
        result = {"now": clock.advance(delta).isoformat() + "Z"}
        kms_deletion.sweep(full=True)
        cfn_requests.sweep()
    elif path == "clock" and method == "GET":
        result = {"now": clock.now().isoformat() + "Z"}
    elif path == "consistency" and method == "POST":
        result = consistency.configure(body)
    elif path == "regions/disable" and method == "POST":
        consistency.disabled_regions.add((str(body["account"]), str(body["region"])))
    elif path.startswith("cfn/"):
        result = cfn_requests.control(method, path)
    elif path == "accounts/close" and method == "POST":
        accounts.closed.add(str(body["account"]))
    else:
        return 404, [("Content-Type", "application/json")], b'{"error": "unknown control endpoint"}'
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode()


class LocalAwsApp:
    """WSGI app: /_localaws/* is ours; every AWS request is checked, then handed to moto.
    strict (the default): every signed request is authenticated and authorised (gate.py)."""

    def __init__(self, strict: bool = True) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        fixes.apply()
        self.strict = strict
        sns_delivery.enforced = strict  # moto's state is process-wide, and so is this switch
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        # ResponseURLs name the server that made them: more than one LocalAws may run in a
        # process (tests start their own), and the last one started must not take them over.
        cfn_custom.server_url = (f"http://{environ.get('SERVER_NAME', '127.0.0.1')}:"
                                 f"{environ.get('SERVER_PORT', '4566')}")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        path = environ.get("PATH_INFO", "")
        if path.startswith(cfn_requests.RESPONSE_PATH):  # a custom resource's ResponseURL
            return self._send(start_response, cfn_response.handle(
                environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), body
            ))
        if path.startswith("/_localaws/"):
            try:
                spec = json.loads(body or b"{}")
                status, headers, out = _control(
                    environ["REQUEST_METHOD"], path[11:].strip("/"), spec
                )
            except (ValueError, TypeError, KeyError) as error:
                status, headers, out = (
                    400,
                    [("Content-Type", "application/json")],
                    json.dumps({"error": str(error)}).encode(),
                )
            return self._send(start_response, (status, headers, out))
        answer = self._intercept(environ, body)
        if answer is not None:
            return self._send(start_response, answer)
        passed = gate.check(environ, body, self.strict)
        if not isinstance(passed, gate.Passed):
            return self._send(start_response, passed)
        accounts.acting.account = passed.acting_account
        try:
            return self.moto(environ, start_response)
        finally:
            accounts.acting.account = None

    def _intercept(self, environ: dict[str, Any], body: bytes) -> Response | None:
        # The signer's scope, from the Authorization header or a presigned URL's query.
        key, region, service = authn.scope(environ) or (None, "", "")
        json_protocol = "json" in environ.get("CONTENT_TYPE", "")
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            operation = target.split(".")[-1]
        else:
            # Only query-protocol bodies are forms; parsing an S3 object as one took seconds.
            is_form = "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "")
            form = parse_qs(body.decode("utf-8", "replace")) if is_form else {}
            form = form or parse_qs(environ.get("QUERY_STRING", ""))
            operation = (form.get("Action") or [""])[0]
        account = accounts.account_of(key)
        if account in accounts.closed:
            return faults.error_response(
                json_protocol,
                "UnrecognizedClientException" if json_protocol else "InvalidClientTokenId",
                "The security token included in the request is invalid.",
                403,
            )
        fault = faults.take(service, operation, account)
        if fault is not None:
            return faults.error_response(
                json_protocol, fault.error_code, fault.message, fault.status
            )
        if service == "kms":
            kms_deletion.sweep()
            consistency.sweep()
        if service == "cloudformation":
            cfn_requests.sweep()
        return consistency.check(service, operation, region, account, body, json_protocol)

    @staticmethod
    def _send(start_response: Any, answer: Response) -> list[bytes]:
        status, headers, body = answer
        phrase = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(
            status, "Error"
        )
        start_response(f"{status} {phrase}", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def bind(host: str, port: int, quiet: bool = False, strict: bool = True) -> BaseWSGIServer:
    """A threaded server for the app; raises OSError if the port is taken. Quiet: log only
    requests that failed with a server error (5xx); otherwise every request."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # Quiet: only server errors (a 4xx is an answer AWS gives too, not our problem).
            if not quiet or str(code).startswith("5"):
                super().log_request(code, size)

    if port:
        # werkzeug prints its own advice and exits when the port is taken; probe first instead.
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    server = make_server(host, port, LocalAwsApp(strict), threaded=True, request_handler=Handler)
    cfn_custom.server_url = f"http://{host}:{server.server_port}"
    return server


class LocalAws(LocalAwsControl):
    """localaws in a background thread of this process; the control methods work on it too."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, quiet: bool = True,
                 strict: bool = True):
        super().__init__(f"http://{host}:{port}")
        self.host, self.port, self.quiet, self.strict = host, port, quiet, strict
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalAws:
        try:
            self._server = bind(self.host, self.port, self.quiet, self.strict)
        except OSError as error:
            raise RuntimeError(
                f"localaws cannot listen on {self.host}:{self.port}: {error}"
            ) from error
        self.port = self._server.server_port
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localaws", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
