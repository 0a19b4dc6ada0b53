"""What each recorded activity adds to the byok_* series (alerts, failed transfers)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

from byok.health_messages import DeliveryResult
from byok.messages import BackupPlan, BackupResult
from runtime.metrics import RECORDERS, Instruments


def recorded(calls: list[tuple[str, Any, Any, BaseException | None]]) -> dict[tuple, float]:
    buffer = MetricBuffer(1000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    instruments = Instruments(runtime.metric_meter)
    for name, arg, result, exc in calls:
        RECORDERS[name](instruments, [arg], result, exc, 2.0)
    out: dict[tuple, float] = defaultdict(float)
    for update in buffer.retrieve_updates():
        labels = tuple(sorted((k, v) for k, v in update.attributes.items()
                              if k != "service_name"))
        out[(update.metric.name, labels)] += update.value
    return out


def test_alert_outcomes_sent_once_failed_attempts_and_give_ups() -> None:
    ref = object()
    counts = recorded([
        ("notify_alert", ref, None, ApplicationError("refused", type="WebhookFailed")),
        ("notify_alert", ref, DeliveryResult("a1", True, "delivered"), None),
        ("notify_alert", ref, DeliveryResult("a1", True, "already_delivered"), None),
        ("notify_alert", ref, DeliveryResult("a2", False, "no_webhook"), None),
        ("give_up_alert", ref, DeliveryResult("a3", False, "failed"), None),
    ])
    alerts = {dict(k[1])["outcome"]: v for k, v in counts.items() if k[0] == "byok_alerts"}
    assert alerts == {"attempt_failed": 1, "sent": 1, "no_webhook": 1, "failed": 1}


def test_backups_count_by_workload_and_key_kind_and_bytes_only_when_stored() -> None:
    plan = BackupPlan("t", "bk-1", "rds", "s3://b/k", "us-east-1", "byok", "arn", "t/bk-1")
    counts = recorded([
        ("write_backup", plan, BackupResult("t", "bk-1", True, plaintext_size=4 << 20), None),
        ("write_backup", plan, BackupResult("t", "bk-2", False, error_code="KEY_DISABLED"),
         None),
        ("write_backup", plan, None, ApplicationError("throttled", type="Throttled")),
    ])
    base = (("key_kind", "byok"), ("workload", "rds"))
    assert counts[("byok_backups", tuple(sorted((*base, ("outcome", "ok")))))] == 1
    assert counts[("byok_backups", tuple(sorted((*base, ("outcome", "failed")))))] == 1
    assert counts[("byok_backups", tuple(sorted((*base, ("outcome", "error"),
                                                 ("error", "Throttled")))))] == 1
    assert counts[("byok_backup_bytes", base)] == 4 << 20
    throughput = [k for k in counts if k[0] == "byok_transfer_throughput"]
    assert throughput == [("byok_transfer_throughput", (("direction", "backup"),))]
