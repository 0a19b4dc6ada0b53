"""Fixtures: one localaws per session (reset between tests) and, for contrast, stock moto."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from localaws import SERVICE_ACCOUNT, LocalAws


@dataclass
class Target:
    """An AWS stand-in under test: localaws (fixed=True) or unpatched moto (fixed=False)."""

    url: str
    fixed: bool

    def client(
        self,
        service: str,
        account: str = SERVICE_ACCOUNT,
        region: str = "us-east-1",
        creds: dict[str, str] | None = None,
        retries: int = 0,
    ) -> Any:
        keys = {"aws_access_key_id": account, "aws_secret_access_key": "local"}
        if creds is not None:
            keys = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
        config = Config(retries={"mode": "standard", "total_max_attempts": retries + 1})
        return boto3.client(
            service, endpoint_url=self.url, region_name=region, config=config, **keys
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server() -> Iterator[LocalAws]:
    aws = LocalAws(host="127.0.0.1", port=0).start()
    yield aws
    aws.stop()


@pytest.fixture(scope="session")
def stock_url() -> Iterator[str]:
    """moto's own server, unpatched, in a subprocess: the behaviour each fix guards against."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("stock moto server did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def local(server: LocalAws) -> Target:
    """localaws, wiped before the test."""
    server.reset()
    return Target(server.url, fixed=True)


@pytest.fixture(params=["localaws", "stock"])
def target(request: pytest.FixtureRequest) -> Target:
    """The same scenario against localaws and against stock moto: the fix must make the
    difference (tests assert real-AWS behaviour on localaws and its absence on stock moto)."""
    if request.param == "localaws":
        return Target(request.getfixturevalue("local").url, fixed=True)
    url = request.getfixturevalue("stock_url")
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    return Target(url, fixed=False)


def error_code(call: Any, *args: Any, **kwargs: Any) -> str | None:
    """The AWS error code a call fails with, or None when it succeeds."""
    try:
        call(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - botocore ClientError carries the code
        response = getattr(error, "response", None)
        return response["Error"]["Code"] if response else type(error).__name__
    return None


def real(target: Target, observed: Any, expected: Any) -> None:
    """Assert AWS's behaviour on localaws, and that stock moto does not show it."""
    if target.fixed:
        assert observed == expected
    else:
        assert observed != expected, f"stock moto already behaves as AWS ({observed!r})"
