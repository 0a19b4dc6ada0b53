"""The worker's Temporal runtime: Prometheus metrics (the SDK's and ours on one endpoint) and,
when BYOK_OTEL_ENDPOINT is set, OpenTelemetry traces through the SDK's interceptor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.client import Interceptor as ClientInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor

from byok.errors import InvalidSettings
from byok.settings import Settings
from runtime.metrics import BUCKETS, Instruments, MetricsInterceptor, callback_latency


@dataclass
class Telemetry:
    runtime: Runtime | None
    metrics_url: str | None
    # Client interceptors that are also worker interceptors (tracing) reach both sides.
    client_interceptors: list[ClientInterceptor] = field(default_factory=list)
    worker_interceptors: list[Interceptor] = field(default_factory=list)


def metrics_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - a name
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/metrics"


def prometheus_runtime(host: str, port: int, what: str, variable: str) -> Runtime:
    """A Temporal runtime serving its metrics (the SDK's and ours) at host:port."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
            bind_address=bind, counters_total_suffix=True,
            histogram_bucket_overrides=BUCKETS)))
    except Exception as exc:  # noqa: BLE001 - the core reports a bind failure as a plain error
        raise InvalidSettings(
            f"cannot serve {what} metrics on {bind} ({exc}); set {variable} "
            "to a free port, or 0 for none") from None


def consumer_telemetry(settings: Settings) -> tuple[Telemetry, Callable[[float], None] | None]:
    """The callback consumer's metrics endpoint (BYOK_CONSUMER_METRICS_PORT) and its
    callback-latency recorder; none when the port is 0."""
    if not settings.consumer_metrics_port:
        return Telemetry(None, None), None
    host, port = settings.worker_metrics_host, settings.consumer_metrics_port
    runtime = prometheus_runtime(host, port, "consumer", "BYOK_CONSUMER_METRICS_PORT")
    return (Telemetry(runtime, metrics_url(host, port)),
            callback_latency(runtime.metric_meter))


def build_telemetry(settings: Settings) -> Telemetry:
    runtime, url = None, None
    worker_interceptors: list[Interceptor] = []
    if settings.worker_metrics_port:
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        runtime = prometheus_runtime(host, port, "worker", "BYOK_WORKER_METRICS_PORT")
        worker_interceptors.append(MetricsInterceptor(Instruments(runtime.metric_meter)))
        url = metrics_url(host, port)
    client_interceptors: list[ClientInterceptor] = []
    if settings.otel_endpoint:
        from runtime.tracing import tracing_interceptor

        client_interceptors.append(tracing_interceptor(settings))
    return Telemetry(runtime, url, client_interceptors, worker_interceptors)
