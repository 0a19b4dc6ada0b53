"""The command line server, the control client and the Python API."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from localaws import TENANT_ACCOUNT, LocalAws, LocalAwsControl

from .conftest import Target, _free_port, error_code

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_ready_and_serves_controls() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localaws", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"localaws ready on http://127.0.0.1:{port}"
        ctl = LocalAwsControl(f"http://127.0.0.1:{port}")
        assert ctl.ping()
        ctl.inject_fault(
            service="kms", operation="Encrypt", error_code="ThrottlingException", count=1
        )
        assert len(ctl.faults()) == 1
        ctl.reset()
        assert ctl.faults() == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_exits_clearly_when_the_port_is_taken() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "localaws", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_ping_is_false_when_nothing_listens() -> None:
    assert not LocalAwsControl(f"http://127.0.0.1:{_free_port()}", timeout=1).ping()


def test_reset_wipes_every_account_and_region(local: Target, server: LocalAws) -> None:
    local.client("kms", TENANT_ACCOUNT, "eu-west-1").create_key()
    server.close_account(TENANT_ACCOUNT)
    server.reset()
    assert local.client("kms", TENANT_ACCOUNT, "eu-west-1").list_keys()["Keys"] == []


def test_start_is_repeatable_in_one_process(server: LocalAws) -> None:
    with LocalAws() as second:
        assert second.url != server.url and second.ping()
    assert not second.ping()


def _cli_log(tmp_path: Path, *flags: str) -> str:
    """Run the CLI, make a control call and two AWS calls, stop it; return what it logged."""
    port = _free_port()
    log = tmp_path / f"localaws{''.join(flags)}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localaws", "--port", str(port), *flags],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("localaws ready")
            assert LocalAwsControl(f"http://127.0.0.1:{port}").ping()
            target = Target(f"http://127.0.0.1:{port}", fixed=True)
            kms = target.client("kms", TENANT_ACCOUNT)
            kms.list_keys()
            assert error_code(kms.describe_key, KeyId="mrk-" + "0" * 32) == "NotFoundException"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return log.read_text()


def test_cli_is_quiet_by_default_and_logs_requests_when_verbose(tmp_path: Path) -> None:
    quiet = _cli_log(tmp_path)
    assert "POST /" not in quiet and "/_localaws/ping" not in quiet
    verbose = _cli_log(tmp_path, "--verbose")
    assert "GET /_localaws/ping" in verbose and verbose.count("POST / ") == 2
