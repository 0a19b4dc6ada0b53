"""KeyHealthActivities: check tenants' keys in every region (one or a batch), drill, record."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio import activity

from activities.base import byok_errors
from activities.health_checks import ACCOUNT_GONE, KeyProbe, finding
from activities.health_clients import SessionClients
from activities.health_plan import Plan, load_plans
from activities.storage import VaultStore
from byok import audit, health
from byok.aws import AwsClients, error_code, map_error
from byok.db import session_scope
from byok.errors import ByokError
from byok.health_messages import (
    AlertNote,
    BatchInput,
    BatchResult,
    HealthCheckInput,
    HealthReport,
    MissedInput,
    RecordInput,
    RecordResult,
    RegionHealth,
    TenantPage,
    TenantPageInput,
)
from byok.models import KeyBinding, Wallet, utcnow
from byok.offboard import OFFBOARDED
from byok.settings import Settings

PROBE_EXTERNAL_ID = "byok-vault-probe-not-your-external-id"
RECORD_EVERY = 50  # checks stored per transaction


class KeyHealthActivities:
    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, store: VaultStore):
        self.aws, self.engine, self.settings, self.store = aws, engine, settings, store
        self.probe = KeyProbe(aws, engine, settings, store)
        self.clients = SessionClients(settings, aws)
        # The last credentials that worked per role: once AssumeRole fails, they tell a closed
        # account (its sessions die too) from a deleted role or changed trust (they live on).
        self._last_good: dict[str, Any] = {}

    @activity.defn
    @byok_errors
    def check_key_health(self, inp: HealthCheckInput) -> HealthReport:
        with session_scope(self.engine) as session:
            plan = load_plans(session, self.settings, [inp.tenant_id], inp.force_drill)
        return self._check(plan[inp.tenant_id])

    @activity.defn
    @byok_errors
    def check_health_batch(self, inp: BatchInput) -> BatchResult:
        """Check tenants on threads, store them RECORD_EVERY at a time, heartbeat progress; a
        retry skips what is stored. A tenant whose check cannot finish is deferred."""
        details = activity.info().heartbeat_details
        result = BatchResult(**details[0]) if details and isinstance(details[0], dict) \
            else BatchResult()
        result.alerts = [AlertNote(**a) if isinstance(a, dict) else a for a in result.alerts]
        todo = [t for t in inp.tenant_ids if t not in set(result.recorded)]
        with session_scope(self.engine) as session:
            plans = load_plans(session, self.settings, todo, inp.force_drill)
        ready: list[tuple[str, HealthReport]] = []
        with ThreadPoolExecutor(self.settings.health_batch_threads,
                                thread_name_prefix="health") as pool:
            futures: dict[Future[HealthReport], str] = {}
            for tenant_id in todo:
                if plans[tenant_id].generations:
                    futures[pool.submit(self._check, plans[tenant_id])] = tenant_id
                else:
                    result.gone += 1
                    result.recorded.append(tenant_id)
            for n, fut in enumerate(as_completed(futures), 1):
                tenant_id = futures[fut]
                try:
                    ready.append((f"{inp.check_id}/{tenant_id}", fut.result()))
                except Exception as exc:  # noqa: BLE001 - its own workflow retries and reports
                    activity.logger.warning("key check of %s deferred: %s", tenant_id,
                                            type(exc).__name__)
                    result.deferred.append(tenant_id)
                    result.recorded.append(tenant_id)
                if len(ready) >= RECORD_EVERY or n == len(futures):
                    self._store(ready, result)
                    ready = []
                activity.heartbeat(result)
        return result

    def _store(self, ready: list[tuple[str, HealthReport]], result: BatchResult) -> None:
        if not ready:
            return
        with session_scope(self.engine) as session:
            recorded = health.record_many(session, ready)
        for rec in recorded:
            result.checked += 1
            result.db_writes += rec.writes
            result.recorded.append(rec.tenant_id)
            if rec.alert_id:
                result.alerts.append(AlertNote(rec.tenant_id, rec.alert_id))

    def _check(self, plan: Plan) -> HealthReport:
        report = HealthReport(plan.tenant_id, utcnow().isoformat())
        for binding, targets in plan.generations:
            creds, lost = self._access(binding, report)
            primary_deleted = False
            with self.clients.acting_as(creds):
                for t in targets:
                    if lost is not None:
                        findings = [finding(lost[0], binding, t.region, t.key_arn, t.primary,
                                            lost[1])]
                    elif not t.key_arn:
                        findings = [finding("REPLICA_MISSING", binding, t.region, t.key_arn,
                                            t.primary, f"the key has no replica in {t.region}")]
                    else:
                        kms = self.clients.client("kms", t.region)
                        findings = self.probe.check(kms, binding, t.region, t.key_arn,
                                                    t.primary, primary_deleted)
                        primary_deleted = primary_deleted or any(
                            f.code == "KEY_DELETED" and t.primary for f in findings)
                    drilled = None
                    if not findings and t.sample is not None:
                        findings, drilled = self.probe.drill(binding, t.region, t.key_arn,
                                                             t.primary, t.sample)
                    report.regions.append(RegionHealth(
                        binding.generation, t.region, t.key_arn, t.primary,
                        health.region_state(findings), findings, drilled))
        return report

    def _access(self, b: KeyBinding, report: HealthReport) -> tuple[Any, tuple[str, str] | None]:
        """Assume the role afresh (a trust change must show now, not when a cached session
        expires): (credentials, None), or (None, (code, message)); and the ExternalId probe."""
        try:
            creds = self.aws.assume(b.role_arn, b.external_id, fresh=True,
                                    session_name="byok-vault-health")
        except ClientError as exc:
            raise map_error(exc, role_arn=b.role_arn) from None
        except ByokError as exc:
            if exc.retryable:
                raise
            if self._account_closed(b.role_arn):
                return None, ("ACCOUNT_LOST", f"AWS account {b.account_id} is closed or "
                              "suspended: its credentials are refused")
            return None, ("ROLE_ACCESS_LOST", f"AssumeRole of {b.role_arn} with your ExternalId "
                          "is denied: the role is gone or no longer trusts byok-vault")
        self._last_good[b.role_arn] = creds
        try:
            self.aws.service("sts").assume_role(RoleArn=b.role_arn, ExternalId=PROBE_EXTERNAL_ID,
                                                RoleSessionName="byok-vault-probe",
                                                DurationSeconds=900)
        except ClientError as exc:
            if map_error(exc).retryable:
                raise map_error(exc) from None
            return creds, None  # refused, as it must be: the trust enforces the ExternalId
        report.warnings.append(finding(
            "ROLE_EXTERNAL_ID_NOT_ENFORCED", b, b.primary_region, b.key_arn, True,
            f"role {b.role_arn} can be assumed without your ExternalId: its trust policy no "
            "longer protects it from the confused-deputy problem"))
        return creds, None

    def _account_closed(self, role_arn: str) -> bool:
        creds = self._last_good.get(role_arn)
        if creds is None:
            return False
        with self.clients.acting_as(creds):
            try:
                self.clients.client("sts", self.settings.control_plane_region
                                    ).get_caller_identity()
            except ClientError as exc:
                return error_code(exc) in ACCOUNT_GONE
        return False

    @activity.defn
    @byok_errors
    def record_health(self, inp: RecordInput) -> RecordResult:
        with session_scope(self.engine) as session:
            return health.record(session, inp.check_id, inp.report)

    @activity.defn
    @byok_errors
    def record_missed_check(self, inp: MissedInput) -> None:
        """No worker started a check in time: an audit event per tenant, for the operator's
        alerting (and the tenant's history), since this check produced no health."""
        with session_scope(self.engine) as session:
            for tenant_id in inp.tenant_ids:
                audit.append(session, tenant_id=tenant_id, actor="key-health",
                             action="key_health.check_missed",
                             details={"check_id": inp.check_id, "waited_seconds": inp.waited,
                                      "task_queue": inp.task_queue},
                             event_key=f"key_health_missed/{inp.check_id}/{tenant_id}")

    @activity.defn
    @byok_errors
    def list_health_tenants(self, inp: TenantPageInput) -> TenantPage:
        """Tenants with at least one key generation, not offboarded, by id, after the cursor."""
        gone = select(Wallet.tenant_id).where(Wallet.state == OFFBOARDED)
        with session_scope(self.engine) as session:
            ids = session.exec(select(KeyBinding.tenant_id).distinct()
                               .where(col(KeyBinding.tenant_id) > inp.after,
                                      col(KeyBinding.tenant_id).not_in(gone))
                               .order_by(col(KeyBinding.tenant_id)).limit(inp.limit)).all()
        return TenantPage(list(ids))
