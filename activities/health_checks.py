"""One key in one region: DescribeKey, a data-key round trip, a restore drill -> findings."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine

from activities.keyprovider import KmsKeyProvider
from activities.kms import KmsActivities
from activities.storage import VaultStore
from byok import health
from byok.aws import RETRY_CONFIG, AwsClients, error_code, map_error
from byok.envelope import drill, make_context
from byok.errors import AwsError, ByokError
from byok.health_alerts import remedy
from byok.health_messages import Finding
from byok.keycache import CachingKeyProvider
from byok.models import Backup, KeyBinding
from byok.settings import Settings

ACCOUNT_GONE = {"InvalidClientTokenId", "UnrecognizedClientException"}


class CheckIncomplete(AwsError):
    """AWS answered something we cannot classify: retry the check rather than guess."""

    code = "HEALTH_CHECK_INCOMPLETE"
    retryable = True


def finding(code: str, b: KeyBinding, region: str, key_arn: str, primary: bool, message: str,
            **extra: Any) -> Finding:
    return Finding(code=code, state=health.finding_state(code), region=region, key_arn=key_arn,
                   generation=b.generation, message=message,
                   remedy=remedy(code, key_arn, region), **extra)


class SessionClients:
    """Clients on given credentials (each check's fresh role session) from one warm boto3
    session: loading service models is what makes a new client slow. The clients are not
    cached, since every check brings new credentials; boto3 sessions are not thread-safe,
    hence the lock."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._session = boto3.Session()
        self._lock = threading.Lock()

    def client(self, creds: Any, name: str, region: str) -> Any:
        with self._lock:
            return self._session.client(
                name, region_name=region, endpoint_url=self.settings.aws_endpoint_url or None,
                config=RETRY_CONFIG, aws_access_key_id=creds.key,
                aws_secret_access_key=creds.secret, aws_session_token=creds.token)


class KeyProbe:
    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, store: VaultStore):
        self.aws, self.engine, self.settings, self.store = aws, engine, settings, store
        self.kms = KmsActivities(aws, engine)

    def check(self, kms: Any, b: KeyBinding, region: str, key_arn: str, primary: bool,
              primary_deleted: bool) -> list[Finding]:
        def bad(code: str, message: str, **extra: Any) -> list[Finding]:
            return [finding(code, b, region, key_arn, primary, message, **extra)]

        try:
            meta = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
            state = meta.get("KeyState")
            if state == "Enabled":
                self.kms.round_trip(kms, key_arn, b.tenant_id, region)
                return []
        except (ClientError, ByokError) as exc:
            code = self._classify(exc, primary, primary_deleted)
            return bad(code, _describe(code, key_arn, region, exc))
        if state == "Disabled":
            what = "key" if primary else "replica"
            return bad("KEY_DISABLED" if primary else "REPLICA_DISABLED",
                       f"the {what} {key_arn} in {region} is disabled")
        if state == "PendingDeletion":
            when = meta.get("DeletionDate") or datetime.now(UTC)
            days = (when - datetime.now(UTC)).total_seconds() / 86400
            return bad("KEY_PENDING_DELETION",
                       f"the key {key_arn} in {region} is scheduled for deletion on "
                       f"{when.isoformat()}", deletion_date=when.isoformat(),
                       days_left=round(days, 2))
        if state == "PendingReplicaDeletion":
            return bad("KEY_PENDING_REPLICA_DELETION",
                       f"the key {key_arn} is scheduled for deletion: KMS deletes it once its "
                       "replicas are deleted (each at its own deletion date)")
        return bad("KEY_UNUSABLE", f"the key {key_arn} in {region} is {state}, not Enabled")

    def _classify(self, exc: Exception, primary: bool, primary_deleted: bool) -> str:
        if isinstance(exc, ClientError) and error_code(exc) in ACCOUNT_GONE:
            return "ACCOUNT_LOST"
        err = map_error(exc)
        if err.retryable:
            raise err
        code = {"KEY_DISABLED": "KEY_DISABLED" if primary else "REPLICA_DISABLED",
                "KEY_NOT_FOUND": "KEY_DELETED" if primary or primary_deleted
                else "REPLICA_MISSING",
                "KEY_ACCESS_DENIED": "KEY_ACCESS_DENIED", "ACCOUNT_LOST": "ACCOUNT_LOST",
                "ROLE_NOT_ASSUMABLE": "ROLE_ACCESS_LOST",
                "KEY_INVALID_STATE": "KEY_UNUSABLE",
                "KEY_ROUND_TRIP_FAILED": "KEY_UNUSABLE"}.get(err.code)
        if code is None:
            raise CheckIncomplete(f"key check got {err.code}: {err.message}")
        return code

    def drill(self, b: KeyBinding, region: str, key_arn: str, primary: bool,
              sample: Backup) -> tuple[list[Finding], str]:
        """Open the header and first frame of a real backup with an uncached provider."""
        provider = CachingKeyProvider(KmsKeyProvider(self.aws, self.engine, self.settings,
                                                     b.tenant_id), None)
        context = make_context(tenant_id=b.tenant_id, backup_id=sample.id,
                               workload=sample.workload, region=sample.region)
        try:
            with self.store.reader(sample.object_key) as src:
                drill(src.read, provider, context)
        except ByokError as exc:
            if exc.retryable:
                raise
            why = f"{exc.code}: {exc.message}"
        except OSError as exc:
            why = f"reading the backup failed: {exc}"
        else:
            return [], sample.id
        return [finding("DRILL_FAILED", b, region, key_arn, primary,
                        f"restore drill of backup {sample.id} failed: {why}")], sample.id


def _describe(code: str, key_arn: str, region: str, exc: Exception) -> str:
    detail = exc.message if isinstance(exc, ByokError) else map_error(exc).message
    return {
        "KEY_DELETED": f"the key {key_arn} in {region} no longer exists (deleted)",
        "REPLICA_MISSING": f"the replica {key_arn} in {region} no longer exists",
        "ACCOUNT_LOST": "the AWS account's credentials are refused (closed or suspended)",
    }.get(code, detail)
