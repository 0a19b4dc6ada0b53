"""Our Prometheus series, recorded around the activities that carry them (one place, no
activity body knows about metrics): backups and bytes by workload and key kind, transfer
throughput, alert deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

MIB = float(1 << 20)
# Buckets for the histograms (the SDK's defaults suit milliseconds, not these units).
BUCKETS: dict[str, list[float]] = {
    "byok_transfer_throughput": [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    "byok_callback_latency": [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600]}


def callback_latency(meter: MetricMeter) -> Callable[[float], None]:
    """The consumer's series: seconds from a stack's custom-resource request (the SNS
    notification's Timestamp) until the waiting workflow held it (the update returned)."""
    histogram = meter.create_histogram_float(
        "byok_callback_latency",
        "Seconds from the stack's request (SNS Timestamp) to the workflow holding it", "s")
    return lambda seconds: histogram.record(seconds)


class Instruments:
    """Every byok_* series; built once per process on the runtime's meter."""

    def __init__(self, meter: MetricMeter) -> None:
        self.backups = meter.create_counter(
            "byok_backups", "Backups finished, by workload, key kind and outcome")
        self.backup_bytes = meter.create_counter(
            "byok_backup_bytes", "Plaintext bytes backed up, by workload and key kind", "bytes")
        self.restores = meter.create_counter("byok_restores", "Restores finished, by outcome")
        self.restore_bytes = meter.create_counter(
            "byok_restore_bytes", "Plaintext bytes restored, by workload", "bytes")
        self.throughput = meter.create_histogram_float(
            "byok_transfer_throughput", "MiB/s of one transfer attempt, by direction", "MiB/s")
        self.resumed = meter.create_counter(
            "byok_transfer_resumed_bytes", "Plaintext bytes a retried transfer took over from "
            "its last checkpoint instead of moving again, by direction", "bytes")
        self.alerts = meter.create_counter(
            "byok_alerts", "Key-health alert deliveries, by outcome (sent, failed, ...)")


Recorder = Callable[[Instruments, Sequence[Any], Any, BaseException | None, float], None]


def _error_type(exc: BaseException) -> str:
    return str(getattr(exc, "type", None) or type(exc).__name__)


def _moved(m: Instruments, result: Any, seconds: float, direction: str) -> None:
    """Throughput of what this attempt moved; what it resumed from is counted apart."""
    resumed = getattr(result, "resumed_bytes", 0)
    m.throughput.record((result.plaintext_size - resumed) / MIB / max(seconds, 1e-6),
                        {"direction": direction})
    if resumed:
        m.resumed.add(resumed, {"direction": direction})


def _backup(m: Instruments, args: Sequence[Any], result: Any, exc: BaseException | None,
            seconds: float) -> None:
    plan = args[0]
    labels = {"workload": plan.workload, "key_kind": plan.key_kind}
    if exc is not None:
        m.backups.add(1, {**labels, "outcome": "error", "error": _error_type(exc)})
        return
    m.backups.add(1, {**labels, "outcome": "ok" if result.ok else "failed"})
    if result.ok:
        m.backup_bytes.add(result.plaintext_size, labels)
        _moved(m, result, seconds, "backup")


def _restore(m: Instruments, args: Sequence[Any], result: Any, exc: BaseException | None,
             seconds: float) -> None:
    plan = args[0]
    if exc is not None:
        m.restores.add(1, {"workload": plan.workload, "outcome": "error",
                           "error": _error_type(exc)})
        return
    m.restores.add(1, {"workload": plan.workload, "outcome": "ok" if result.ok else "failed"})
    if result.ok:
        m.restore_bytes.add(result.plaintext_size, {"workload": plan.workload})
        _moved(m, result, seconds, "restore")


def _alert(m: Instruments, args: Sequence[Any], result: Any, exc: BaseException | None,
           seconds: float) -> None:
    if exc is not None:  # one failed attempt; Temporal retries it
        m.alerts.add(1, {"outcome": "attempt_failed"})
    elif result.status != "already_delivered":  # a retry after a success counts once
        m.alerts.add(1, {"outcome": "sent" if result.delivered else result.status})


def _give_up(m: Instruments, args: Sequence[Any], result: Any, exc: BaseException | None,
             seconds: float) -> None:
    if exc is None and result.status == "failed":
        m.alerts.add(1, {"outcome": "failed"})


RECORDERS: dict[str, Recorder] = {"write_backup": _backup, "read_restore": _restore,
                                  "notify_alert": _alert, "give_up_alert": _give_up}


class MetricsInterceptor(Interceptor):
    def __init__(self, instruments: Instruments) -> None:
        self.instruments = instruments

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self.instruments)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, instruments: Instruments) -> None:
        super().__init__(next)
        self.instruments = instruments

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        record = RECORDERS.get(activity.info().activity_type)
        if record is None:
            return await super().execute_activity(input)
        started = time.monotonic()
        try:
            result = await super().execute_activity(input)
        except BaseException as exc:
            record(self.instruments, input.args, None, exc, time.monotonic() - started)
            raise
        record(self.instruments, input.args, result, None, time.monotonic() - started)
        return result
