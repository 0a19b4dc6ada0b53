"""KeyHealthActivities: check every key of a tenant in every region, drill, record."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from activities.base import byok_errors
from activities.health_checks import ACCOUNT_GONE, KeyProbe, SessionClients, finding
from activities.storage import VaultStore
from byok import crud, health, keyring
from byok.aws import AwsClients, error_code, map_error
from byok.db import session_scope
from byok.errors import ByokError
from byok.health_messages import (
    HealthCheckInput,
    HealthReport,
    RecordInput,
    RecordResult,
    RegionHealth,
    TenantPage,
    TenantPageInput,
)
from byok.models import Backup, KeyBinding, KeyHealth, utcnow
from byok.settings import Settings

PROBE_EXTERNAL_ID = "byok-vault-probe-not-your-external-id"


class KeyHealthActivities:
    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, store: VaultStore):
        self.aws, self.engine, self.settings, self.store = aws, engine, settings, store
        self.probe = KeyProbe(aws, engine, settings, store)
        self.clients = SessionClients(settings)
        # The last credentials that worked per role: once AssumeRole fails, they tell a closed
        # account (its sessions die too) from a deleted role or changed trust (they live on).
        self._last_good: dict[str, Any] = {}

    @activity.defn
    @byok_errors
    def check_key_health(self, inp: HealthCheckInput) -> HealthReport:
        report = HealthReport(inp.tenant_id, utcnow().isoformat())
        with session_scope(self.engine) as session:
            found = keyring.bindings(session, inp.tenant_id)
            connected = set(crud.connected_regions(session, tenant_id=inp.tenant_id,
                                                   account_id=found[0].account_id)
                            ) if found else set()
            plans = [(b, self._targets(session, b, connected if i == 0 else set(), inp))
                     for i, b in enumerate(found)]
        for binding, targets in plans:
            creds, lost = self._access(binding, report)
            primary_deleted = False
            for region, key_arn, primary, sample in targets:
                if lost is not None:
                    findings = [finding(lost[0], binding, region, key_arn, primary, lost[1])]
                elif not key_arn:
                    findings = [finding("REPLICA_MISSING", binding, region, key_arn, primary,
                                        f"the key has no replica in {region}")]
                else:
                    kms = self.clients.client(creds, "kms", region)
                    findings = self.probe.check(kms, binding, region, key_arn, primary,
                                                primary_deleted)
                    primary_deleted = primary_deleted or any(
                        f.code == "KEY_DELETED" and primary for f in findings)
                drilled = None
                if not findings and sample is not None:
                    findings, drilled = self.probe.drill(binding, region, key_arn, primary,
                                                         sample)
                report.regions.append(RegionHealth(
                    binding.generation, region, key_arn, primary, health.region_state(findings),
                    findings, drilled))
            activity.heartbeat(binding.generation)
        return report

    def _targets(self, session: Session, b: KeyBinding, connected: set[str],
                 inp: HealthCheckInput) -> list[tuple[str, str, bool, Backup | None]]:
        """(region, key, primary?, sample backup to drill or None) for one generation."""
        keys = {b.primary_region: b.key_arn, **b.replica_key_arns}
        keys.update({r: "" for r in connected if r not in keys})  # connected, never replicated
        rows = {(h.region): h for h in session.exec(select(KeyHealth).where(
            KeyHealth.tenant_id == b.tenant_id, KeyHealth.generation == b.generation)).all()}
        every = timedelta(seconds=self.settings.health_drill_interval_seconds)
        out = []
        for region in sorted(keys, key=lambda r: (r != b.primary_region, r)):
            row, sample = rows.get(region), None
            due = inp.force_drill or row is None or row.drilled_at is None or (
                utcnow() - row.drilled_at.replace(tzinfo=UTC) >= every)
            if keys[region] and due:
                sample = session.exec(select(Backup).where(
                    Backup.tenant_id == b.tenant_id, Backup.key_arn == keys[region],
                    Backup.region == region, col(Backup.status) == "complete")
                    .order_by(col(Backup.created_at).desc()).limit(1)).first()
            out.append((region, keys[region], region == b.primary_region, sample))
        return out

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
        sts = self.clients.client(creds, "sts", self.settings.control_plane_region)
        try:
            sts.get_caller_identity()
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
    def list_health_tenants(self, inp: TenantPageInput) -> TenantPage:
        """Tenants with at least one key generation, by id, after the cursor."""
        with session_scope(self.engine) as session:
            ids = session.exec(select(KeyBinding.tenant_id).distinct()
                               .where(col(KeyBinding.tenant_id) > inp.after)
                               .order_by(col(KeyBinding.tenant_id)).limit(inp.limit)).all()
        return TenantPage(list(ids))

