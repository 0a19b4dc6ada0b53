"""Attack: talk to the Temporal frontend without being one of ours (or read the traffic of one
of ours). With BYOK_TEMPORAL_TLS_* every client connects over mutual TLS; a client without the
certificate is refused in the handshake.

The Temporal dev and test servers serve plaintext only (`temporal server start-dev` has no TLS
flags), so the cluster's side here is a TLS terminator that demands a client certificate from
our CA and forwards to the test server: the client's TLS is real end to end up to it."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from byok.errors import InvalidSettings
from byok.settings import Settings, load_settings
from byok.startup import check_real_mode
from byok.temporal import connect
from tests.security.pki import issue, write_pem


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca_key, ca = issue("byok test CA", None, ca=True)
    server_key, server = issue("temporal.cluster.internal", (ca_key, ca.subject), sans=[
        x509.DNSName("temporal.cluster.internal"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key, client = issue("byok-worker", (ca_key, ca.subject))
    stranger_ca_key, stranger_ca = issue("someone else's CA", None, ca=True)
    stranger_key, stranger = issue("byok-worker", (stranger_ca_key, stranger_ca.subject))
    ca_path, _ = write_pem(tmp_path / "ca", ca_key, ca)
    server_crt, server_key_path = write_pem(tmp_path / "server", server_key, server)
    client_crt, client_key_path = write_pem(tmp_path / "client", client_key, client)
    stranger_crt, stranger_key_path = write_pem(tmp_path / "stranger", stranger_key, stranger)
    return {"ca": ca_path, "server_crt": server_crt, "server_key": server_key_path,
            "client_crt": client_crt, "client_key": client_key_path,
            "stranger_crt": stranger_crt, "stranger_key": stranger_key_path}


@pytest.fixture
async def mtls_frontend(temporal_env: Any, pki: dict[str, Path]) -> AsyncIterator[str]:
    """host:port of a TLS endpoint that requires a client certificate from our CA."""
    upstream = temporal_env.client.service_client.config.target_host
    up_host, up_port = upstream.rsplit(":", 1)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
    ctx.load_cert_chain(pki["server_crt"], pki["server_key"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])  # gRPC

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


def _tls(settings: Settings, address: str, **files: Path | str) -> Settings:
    return load_settings(**{**settings.model_dump(), "temporal_address": address,
                            **{f"temporal_tls_{k}": str(v) for k, v in files.items()}})


async def test_a_client_with_our_certificate_connects_over_mtls(
        settings: Settings, mtls_frontend: str, pki: dict[str, Path]) -> None:
    ours = _tls(settings, mtls_frontend, ca=pki["ca"], cert=pki["client_crt"],
                key=pki["client_key"], server_name="temporal.cluster.internal")
    client = await connect(ours)
    await client.workflow_service.get_system_info(GetSystemInfoRequest())  # through the TLS
    assert client.service_client.config.tls is not False


@pytest.mark.parametrize("who", ["no certificate", "another CA's certificate", "plaintext"])
async def test_a_client_without_our_certificate_is_refused(
        settings: Settings, mtls_frontend: str, pki: dict[str, Path], who: str) -> None:
    files: dict[str, Path | str] = {
        "no certificate": {"ca": pki["ca"]},
        "another CA's certificate": {"ca": pki["ca"], "cert": pki["stranger_crt"],
                                     "key": pki["stranger_key"]},
        "plaintext": {}}[who]  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect(_tls(settings, mtls_frontend, **files)), 30)


async def test_the_server_must_prove_itself_too(
        settings: Settings, mtls_frontend: str, pki: dict[str, Path]) -> None:
    """Our client certificate against a CA that did not sign the server: refused."""
    wrong_ca = _tls(settings, mtls_frontend, ca=pki["stranger_crt"], cert=pki["client_crt"],
                    key=pki["client_key"])
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect(wrong_ca), 30)


def test_a_certificate_without_its_key_is_refused_by_name(pki: dict[str, Path]) -> None:
    with pytest.raises(InvalidSettings) as err:
        load_settings(temporal_tls_cert=str(pki["client_crt"]))
    assert "BYOK_TEMPORAL_TLS_CERT is set without BYOK_TEMPORAL_TLS_KEY" in err.value.message
    with pytest.raises(InvalidSettings) as err:
        load_settings(temporal_tls_key=str(pki["client_key"]))
    assert "BYOK_TEMPORAL_TLS_KEY is set without BYOK_TEMPORAL_TLS_CERT" in err.value.message
    with pytest.raises(InvalidSettings) as err:
        load_settings(temporal_tls_server_name="temporal.cluster.internal")
    assert "BYOK_TEMPORAL_TLS_SERVER_NAME is set but TLS is not" in err.value.message


async def test_missing_unreadable_or_wrong_files_are_named_before_connecting(
        settings: Settings, pki: dict[str, Path], tmp_path: Path) -> None:
    missing = _tls(settings, "127.0.0.1:1", ca=tmp_path / "nope.pem")
    assert any("BYOK_TEMPORAL_TLS_CA" in p and "cannot be read" in p
               for p in check_real_mode(missing, "127.0.0.1"))
    with pytest.raises(InvalidSettings, match=r"BYOK_TEMPORAL_TLS_CA .*cannot be read"):
        await connect(missing)
    # A certificate given where the key belongs: named, and no key material in the message.
    swapped = _tls(settings, "127.0.0.1:1", ca=pki["ca"], cert=pki["client_crt"],
                   key=pki["client_crt"])
    with pytest.raises(InvalidSettings, match=r"BYOK_TEMPORAL_TLS_KEY .*not a PEM private key"):
        await connect(swapped)
    secret = pki["client_key"].read_text()
    unreadable = tmp_path / "locked.key"
    unreadable.write_text(secret)
    unreadable.chmod(0)
    locked = _tls(settings, "127.0.0.1:1", cert=pki["client_crt"], key=unreadable)
    problems = check_real_mode(locked, "127.0.0.1")
    if os.geteuid() != 0:  # root reads any file
        assert any("BYOK_TEMPORAL_TLS_KEY" in p and "cannot be read" in p for p in problems)
    assert all("PRIVATE KEY" not in p for p in problems)
