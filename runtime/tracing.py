"""OpenTelemetry traces over OTLP/HTTP, through temporalio.contrib.opentelemetry (extra `otel`)."""

from __future__ import annotations

from temporalio.client import Interceptor

from byok.errors import InvalidSettings
from byok.settings import Settings

SERVICE_NAME = "byok-vault"


def tracing_interceptor(settings: Settings) -> Interceptor:
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        raise InvalidSettings("BYOK_OTEL_ENDPOINT is set but the OpenTelemetry packages are "
                              "missing: pip install 'byok-vault[otel]'") from None
    endpoint = settings.otel_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return TracingInterceptor(trace.get_tracer(SERVICE_NAME))
