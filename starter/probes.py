"""What `byok up` asks of the machine before and while it starts the stack: free ports,
and whether a child is answering yet."""

from __future__ import annotations

import asyncio
import socket

import httpx

from byok.settings import Settings


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port left in TIME_WAIT by a previous run is free; a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_problems(settings: Settings) -> list[str]:
    """Every port the stack needs that is taken, each naming the setting that moves it."""
    wanted = [(settings.temporal_port, "BYOK_TEMPORAL_PORT", "127.0.0.1"),
              (settings.temporal_ui_port, "BYOK_TEMPORAL_UI_PORT", "127.0.0.1"),
              (settings.web_port, "BYOK_WEB_PORT", settings.web_host)]
    if settings.worker_metrics_port:
        wanted.append((settings.worker_metrics_port, "BYOK_WORKER_METRICS_PORT",
                       settings.worker_metrics_host))
    if settings.consumer_metrics_port:
        wanted.append((settings.consumer_metrics_port, "BYOK_CONSUMER_METRICS_PORT",
                       settings.worker_metrics_host))
    if settings.codec_port:
        wanted.append((settings.codec_port, "BYOK_CODEC_PORT", "127.0.0.1"))
    if settings.aws_endpoint_url:
        wanted.insert(2, (settings.localaws_port, "BYOK_LOCALAWS_PORT", "127.0.0.1"))
    problems: list[str] = []
    owner: dict[int, str] = {}
    for port, var, host in wanted:
        if port in owner:
            problems.append(f"port {port} is given to both {owner[port]} and {var}")
            continue
        owner[port] = var
        if not _bindable(host, port):
            problems.append(f"port {port} is in use ({var}); stop what uses it "
                            f"or set {var} to a free port")
    return problems


def http_status(url: str) -> int | None:
    try:
        # trust_env=False: an HTTP(S)_PROXY from the environment must not see local probes.
        return httpx.get(url, timeout=2, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def temporal_answers(port: int) -> bool:
    from temporalio.client import Client

    async def probe() -> None:
        client = await asyncio.wait_for(Client.connect(f"127.0.0.1:{port}"), 5)
        await asyncio.wait_for(client.service_client.check_health(), 5)

    try:
        asyncio.run(probe())
    except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
        return False
    return True


def temporal_ready(port: int, ui_port: int) -> bool:
    # The cheap TCP check first: the gRPC probe is slow to fail while nothing listens.
    return (tcp_open(port) and temporal_answers(port)
            and http_status(f"http://127.0.0.1:{ui_port}/") is not None)
