"""The worker's Temporal runtime: Prometheus metrics (the SDK's and ours on one endpoint) and,
when BYOK_OTEL_ENDPOINT is set, OpenTelemetry traces through the SDK's interceptor."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Interceptor as ClientInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor

from byok.errors import InvalidSettings
from byok.settings import Settings
from runtime.metrics import BUCKETS, Instruments, MetricsInterceptor


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


def build_telemetry(settings: Settings) -> Telemetry:
    runtime, url = None, None
    worker_interceptors: list[Interceptor] = []
    if settings.worker_metrics_port:
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
                bind_address=bind, counters_total_suffix=True,
                histogram_bucket_overrides=BUCKETS)))
        except Exception as exc:  # noqa: BLE001 - the core reports a bind failure as a plain error
            raise InvalidSettings(
                f"cannot serve worker metrics on {bind} ({exc}); set BYOK_WORKER_METRICS_PORT "
                "to a free port, or 0 for none") from None
        worker_interceptors.append(MetricsInterceptor(Instruments(runtime.metric_meter)))
        url = metrics_url(host, port)
    client_interceptors: list[ClientInterceptor] = []
    if settings.otel_endpoint:
        from runtime.tracing import tracing_interceptor

        client_interceptors.append(tracing_interceptor(settings))
    return Telemetry(runtime, url, client_interceptors, worker_interceptors)
