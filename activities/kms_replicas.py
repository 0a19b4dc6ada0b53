"""Tenant-managed replicas: the tenant made them (StackSet or Terraform); the service only
checks that each connected region holds a usable replica of the primary it verified."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from temporalio import activity

from activities.base import byok_errors
from activities.settle import settle
from byok.aws import error_code, map_error
from byok.errors import ByokError, KeyUnusable
from byok.messages import ReplicaCheck, ReplicaReport, ReplicaResult

# A region without one yet: the workflow re-checks it later.
MISSING = "REPLICA_MISSING"
CREATING = "REPLICA_CREATING"


class TenantReplicaChecks:
    """Mixed into KmsActivities (one activity class per external system)."""

    aws: Any
    _kms: Any
    _call: Any
    round_trip: Any

    @activity.defn
    @byok_errors
    def check_replicas(self, check: ReplicaCheck) -> ReplicaReport:
        results = []
        for region in check.regions:
            activity.heartbeat(region)
            results.append(self._check_one(check, region))
        return ReplicaReport(results)

    def _check_one(self, check: ReplicaCheck, region: str) -> ReplicaResult:
        from activities.kms import REGION_REFUSED, check_enabled, parse_key_arn, region_not_enabled

        _, _, key_id = parse_key_arn(check.primary_key_arn) or ("", "", check.primary_key_arn)
        try:
            kms = self._kms(check.tenant_id, check.role_arn, region)
            try:
                meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            except ClientError as exc:
                if error_code(exc) == "NotFoundException":
                    raise KeyUnusable(
                        f"no replica of {check.primary_key_arn} in {region} yet: deploy the "
                        f"replicas StackSet (byok-v2-replicas.yaml) to {region}, or the "
                        "Terraform replica module with a provider for it", code=MISSING) from None
                if error_code(exc) in REGION_REFUSED:
                    raise region_not_enabled(region) from None
                if error_code(exc) in ("AccessDeniedException", "AccessDenied"):
                    raise KeyUnusable(
                        f"the role may not use the key {key_id} in {region}: give the replica "
                        "the key policy of byok-v2-replicas.yaml (this account's IAM decides)",
                        code="REPLICA_ACCESS_DENIED") from None
                raise map_error(exc, key_id=key_id) from None
            self._is_replica_of(meta, check.primary_key_arn, region)
            if meta.get("KeyState") == "Creating":
                raise KeyUnusable(f"the replica in {region} is still Creating", code=CREATING)
            try:
                check_enabled(meta)
            except KeyUnusable as exc:
                raise KeyUnusable(f"the replica in {region}: {exc.message}",
                                  code="REPLICA_NOT_ENABLED") from None
            settle(lambda: self.round_trip(kms, meta["Arn"], check.tenant_id, region),
                   self.aws.settings.aws_consistency_seconds)
            return ReplicaResult(region=region, ok=True, key_arn=meta["Arn"])
        except ByokError as exc:
            if exc.retryable:
                raise
            code = "REPLICA_ACCESS_DENIED" if exc.code == "KEY_ACCESS_DENIED" else exc.code
            return ReplicaResult(region=region, ok=False, error_code=code,
                                 error_message=exc.message)

    @staticmethod
    def _is_replica_of(meta: dict[str, Any], primary_arn: str, region: str) -> None:
        config = meta.get("MultiRegionConfiguration") or {}
        primary = (config.get("PrimaryKey") or {}).get("Arn")
        if not meta.get("MultiRegion") or config.get("MultiRegionKeyType") != "REPLICA" \
                or primary != primary_arn or meta["Arn"].split(":")[3] != region:
            kind = config.get("MultiRegionKeyType") or "a single-region key"
            raise KeyUnusable(f"the key {meta['KeyId']} in {region} is not a replica of "
                              f"{primary_arn} (it is {kind}, primary {primary or 'none'})",
                              code="REPLICA_OF_ANOTHER_KEY")
