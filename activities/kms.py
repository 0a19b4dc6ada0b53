"""KmsActivities: verify the tenant's key, replicate it, and prove data-key round trips."""

from __future__ import annotations

import secrets
import time
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from activities.kms_replicas import TenantReplicaChecks
from activities.settle import settle
from byok import crud, enablement
from byok.aws import AwsClients, error_code, map_error
from byok.db import session_scope
from byok.errors import ByokError, KeyUnusable, NotFound
from byok.messages import KeyCheck, KeyFacts, ReplicaInput, ReplicaResult, TenantRef


def parse_key_arn(value: str) -> tuple[str, str, str] | None:
    """(region, account, key id) of a KMS key ARN, or None for a bare key id."""
    if not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
        raise KeyUnusable(f"{value!r} is not a KMS key ARN", code="KEY_INVALID_ID")
    return parts[3], parts[4], parts[5].removeprefix("key/")


def check_enabled(meta: dict[str, Any]) -> None:
    """Refuse a key that is not Enabled, saying how to make it usable again."""
    key_id, state = meta["KeyId"], meta.get("KeyState")
    if state == "Disabled":
        raise KeyUnusable(f"key {key_id} is disabled: enable it in AWS KMS, then retry",
                          code="KEY_DISABLED")
    if state in ("PendingDeletion", "PendingReplicaDeletion"):
        when = meta.get("DeletionDate")
        raise KeyUnusable(f"key {key_id} is pending deletion (on {when}); cancel the deletion "
                          "and enable the key, then retry", code="KEY_PENDING_DELETION")
    if state != "Enabled":
        raise KeyUnusable(f"key {key_id} is {state}, not Enabled", code="KEY_NOT_ENABLED")


class KmsActivities(TenantReplicaChecks):
    def __init__(self, aws: AwsClients, engine: Engine):
        self.aws = aws
        self.engine = engine

    def _kms(self, tenant_id: str, role_arn: str, region: str) -> Any:
        with session_scope(self.engine) as session:
            external_id = enablement.external_id_for(session, tenant_id)
        return self.aws.tenant("kms", region, role_arn, external_id)

    def _call(self, fn: Any, key_id: str, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except ClientError as exc:
            raise map_error(exc, key_id=key_id) from None

    def round_trip(self, kms: Any, key_id: str, tenant_id: str, region: str) -> None:
        context = {"byok-vault:tenant": tenant_id, "byok-vault:purpose": "verify",
                   "byok-vault:nonce": secrets.token_hex(8), "byok-vault:region": region}
        out = self._call(kms.generate_data_key, key_id, KeyId=key_id, KeySpec="AES_256",
                         EncryptionContext=context)
        back = self._call(kms.decrypt, key_id, CiphertextBlob=out["CiphertextBlob"],
                          EncryptionContext=context, KeyId=key_id)
        if back["Plaintext"] != out["Plaintext"]:
            raise KeyUnusable(f"data-key round trip under {key_id} in {region} returned other "
                              "bytes", code="KEY_ROUND_TRIP_FAILED")

    @activity.defn
    @byok_errors
    def verify_key(self, check: KeyCheck) -> KeyFacts:
        key_id = check.key_id.strip()
        if key_id.startswith("alias/") or ":alias/" in key_id:
            raise KeyUnusable("UserMultiRegionCMKKeyId must be a key id or key ARN, not an alias",
                              code="KEY_ID_IS_ALIAS")
        parsed = parse_key_arn(key_id)
        if parsed:
            region, account, _ = parsed
            if account != check.account_id:
                raise KeyUnusable(f"the key is in account {account}, not in {check.account_id}; "
                                  "use a key of the account you enable", code="KEY_WRONG_ACCOUNT")
            if region != check.region:
                raise KeyUnusable(f"the key is in {region}; it must be a multi-region primary key "
                                  f"in the control-plane region {check.region}",
                                  code="KEY_WRONG_REGION")
        kms = self._kms(check.tenant_id, check.role_arn, check.region)
        try:
            # A key the stack has just created may not be visible yet.
            meta = settle(lambda: self._call(kms.describe_key, key_id, KeyId=key_id),
                          self.aws.settings.aws_consistency_seconds)["KeyMetadata"]
        except KeyUnusable as exc:
            if exc.code == "KEY_NOT_FOUND":
                self._explain_missing(check, key_id)
            raise
        facts = self._check_metadata(meta, check)
        self.round_trip(kms, facts.key_arn, check.tenant_id, check.region)
        return facts

    def _explain_missing(self, check: KeyCheck, key_id: str) -> None:
        with session_scope(self.engine) as session:
            regions = crud.connected_regions(session, tenant_id=check.tenant_id,
                                             account_id=check.account_id)
        for region in regions:
            if region == check.region:
                continue
            try:
                self._kms(check.tenant_id, check.role_arn, region).describe_key(KeyId=key_id)
            except ClientError:
                continue
            raise KeyUnusable(f"key {key_id} is in {region}; it must be a multi-region primary key "
                              f"in the control-plane region {check.region}",
                              code="KEY_WRONG_REGION")
        raise KeyUnusable(f"key {key_id} does not exist in account {check.account_id} region "
                          f"{check.region}", code="KEY_NOT_FOUND")

    def _check_metadata(self, meta: dict[str, Any], check: KeyCheck) -> KeyFacts:
        arn, key_id = meta["Arn"], meta["KeyId"]
        if meta.get("AWSAccountId", check.account_id) != check.account_id:
            raise KeyUnusable("the key is in another account", code="KEY_WRONG_ACCOUNT")
        if (meta.get("KeyUsage"), meta.get("KeySpec", meta.get("CustomerMasterKeySpec")),
                meta.get("Origin")) != ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "AWS_KMS"):
            raise KeyUnusable("the key must be a symmetric ENCRYPT_DECRYPT key with key material "
                              "from AWS KMS (SYMMETRIC_DEFAULT, origin AWS_KMS)",
                              code="KEY_UNSUPPORTED")
        if not meta.get("MultiRegion"):
            raise KeyUnusable(f"key {key_id} is a single-region key; BYOK needs a multi-region "
                              "primary key (or leave the parameter empty to have the stack create "
                              "one)", code="KEY_NOT_MULTI_REGION")
        mr_type = meta.get("MultiRegionConfiguration", {}).get("MultiRegionKeyType")
        if mr_type != "PRIMARY":
            raise KeyUnusable(f"key {key_id} is a replica; give the primary key's id",
                              code="KEY_IS_REPLICA")
        # What the key is comes first (a replica is named as such even while it is still
        # Creating); then whether it is usable now.
        check_enabled(meta)
        region = arn.split(":")[3]
        if region != check.region:
            raise KeyUnusable(f"the key is in {region}, not the control-plane region "
                              f"{check.region}", code="KEY_WRONG_REGION")
        return KeyFacts(key_arn=arn, key_id=key_id, region=region, multi_region=True)

    @activity.defn
    @byok_errors
    def check_legacy_key(self, ref: TenantRef) -> KeyFacts:
        """Before a migration: the key being migrated from must be healthy right now, or the
        tenant would learn of a broken key only when restoring its old backups."""
        with session_scope(self.engine) as session:
            bound = enablement.binding(session, ref.tenant_id)
            if bound is None:
                raise NotFound("BYOK is not enabled for this tenant", code="NOT_ENABLED")
            role, external_id, key_arn = bound.role_arn, bound.external_id, bound.key_arn
            region, multi = bound.primary_region, bound.multi_region
        kms = self.aws.tenant("kms", region, role, external_id)
        meta = self._call(kms.describe_key, key_arn, KeyId=key_arn)["KeyMetadata"]
        try:
            check_enabled(meta)
        except KeyUnusable as exc:
            raise KeyUnusable(f"cannot migrate while the current key is unhealthy: "
                              f"{exc.message}", code=exc.code) from None
        self.round_trip(kms, key_arn, ref.tenant_id, region)
        return KeyFacts(key_arn=key_arn, key_id=meta["KeyId"], region=region, multi_region=multi)

    @activity.defn
    @byok_errors
    def replicate_key(self, inp: ReplicaInput) -> ReplicaResult:
        """Create (or reuse) the replica in one region, wait until Enabled, round-trip there."""
        primary_region, _, key_id = parse_key_arn(inp.primary_key_arn) or ("", "", "")
        patience = self.aws.settings.aws_consistency_seconds
        try:
            kms = self._kms(inp.tenant_id, inp.role_arn, inp.region)
            meta = self._existing_replica(kms, key_id, inp.region)
            if meta is None:
                primary = self._kms(inp.tenant_id, inp.role_arn, primary_region)
                self._replicate(primary, inp, key_id)
            meta = self._wait_enabled(kms, key_id, inp.region)
            settle(lambda: self.round_trip(kms, meta["Arn"], inp.tenant_id, inp.region),
                   patience)
            return ReplicaResult(region=inp.region, ok=True, key_arn=meta["Arn"])
        except ByokError as exc:
            if exc.retryable:
                raise
            return ReplicaResult(region=inp.region, ok=False, error_code=exc.code,
                                 error_message=exc.message)

    def _replicate(self, primary: Any, inp: ReplicaInput, key_id: str) -> None:
        try:
            # No Tags: tagging a replica needs kms:TagResource on any key, more than the
            # tenant's role grants.
            primary.replicate_key(KeyId=inp.primary_key_arn, ReplicaRegion=inp.region,
                                  Description="byok-vault replica")
        except ClientError as exc:
            code = error_code(exc)
            if code == "AlreadyExistsException":
                return  # an earlier attempt made it; DescribeKey had not caught up yet
            if code == "UnsupportedOperationException" and "not enabled" in str(exc):
                raise region_not_enabled(inp.region) from None
            raise map_error(exc, key_id=key_id) from None

    def _existing_replica(self, kms: Any, key_id: str, region: str) -> dict[str, Any] | None:
        try:
            return kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as exc:
            if error_code(exc) == "NotFoundException":
                return None
            if error_code(exc) in REGION_REFUSED:
                # The same role was just accepted in the primary's region: it is this region
                # that refuses the account's credentials, not the account that is gone.
                raise region_not_enabled(region) from None
            raise map_error(exc, key_id=key_id) from None

    def _wait_enabled(self, kms: Any, key_id: str, region: str) -> dict[str, Any]:
        deadline, pause = time.monotonic() + 300, 0.25
        patience = self.aws.settings.aws_consistency_seconds
        while True:
            # A replica just made may answer NotFound for a while before it shows as Creating.
            meta = settle(lambda: self._call(kms.describe_key, key_id, KeyId=key_id),
                          patience)["KeyMetadata"]
            state = meta.get("KeyState")
            if state == "Enabled":
                return meta
            if state != "Creating":
                code = "REPLICA_DISABLED" if state == "Disabled" else "REPLICA_NOT_ENABLED"
                raise KeyUnusable(f"the replica in {region} is {state}; enable it in AWS KMS",
                                  code=code)
            if time.monotonic() > deadline:
                raise KeyUnusable(f"the replica in {region} stayed Creating for 5 minutes",
                                  code="REPLICA_TIMEOUT")
            activity.heartbeat(state)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


# What AWS answers a request in an opt-in region the account has not enabled.
REGION_REFUSED = ("UnrecognizedClientException", "InvalidClientTokenId")


def region_not_enabled(region: str) -> KeyUnusable:
    return KeyUnusable(f"the region {region} is not enabled in the tenant's AWS account: enable "
                       "it (AWS console > Account > AWS Regions), then start the enablement "
                       "again, or disconnect the region", code="REGION_NOT_ENABLED")
