"""KMS fidelity: each scenario runs on localaws (real AWS behaviour) and stock moto (not)."""

from __future__ import annotations

import json
import re
from typing import Any

from localaws import OTHER_ACCOUNT, TENANT_ACCOUNT, LocalAws

from .conftest import Target, error_code, real


def _mrk(target: Target, region: str = "us-east-1") -> tuple[Any, dict[str, Any]]:
    kms = target.client("kms", TENANT_ACCOUNT, region)
    return kms, kms.create_key(MultiRegion=True)["KeyMetadata"]


def test_multi_region_ciphertext_decrypts_in_primary_and_replica_region(target: Target) -> None:
    kms, key = _mrk(target)
    blob = kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")["CiphertextBlob"]
    real(target, error_code(kms.decrypt, CiphertextBlob=blob), None)
    if target.fixed:  # stock moto cannot get this far
        kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
        replica = target.client("kms", TENANT_ACCOUNT, "eu-west-1")
        answer = replica.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"])
        assert answer["KeyId"] == key["Arn"].replace("us-east-1", "eu-west-1")


def test_describing_a_replica_leaves_the_primary_primary(target: Target) -> None:
    kms, key = _mrk(target)
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    replica = target.client("kms", TENANT_ACCOUNT, "eu-west-1").describe_key(KeyId=key["KeyId"])
    assert replica["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    primary = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    real(target, primary["MultiRegionKeyType"], "PRIMARY")


def test_replicate_key_accepts_a_key_arn(target: Target) -> None:
    kms, key = _mrk(target)
    real(target, error_code(kms.replicate_key, KeyId=key["Arn"], ReplicaRegion="eu-west-1"), None)


def test_replicating_twice_into_a_region_is_already_exists(target: Target) -> None:
    kms, key = _mrk(target)
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    again = error_code(kms.replicate_key, KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    real(target, again, "AlreadyExistsException")


def test_disabled_key_refuses_cryptographic_operations(target: Target) -> None:
    kms, key = _mrk(target)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    codes = [
        error_code(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x"),
        error_code(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256"),
        error_code(kms.generate_data_key_without_plaintext, KeyId=key["KeyId"], KeySpec="AES_256"),
        error_code(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=key["KeyId"]),
    ]
    real(target, codes, ["DisabledException"] * 4)
    if target.fixed:
        assert error_code(kms.decrypt, CiphertextBlob=blob) == "DisabledException"


def test_pending_deletion_key_is_invalid_state(target: Target) -> None:
    kms = target.client("kms", TENANT_ACCOUNT)
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    codes = [
        error_code(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x"),
        error_code(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256"),
    ]
    real(target, codes, ["KMSInvalidStateException"] * 2)


def test_pending_window_outside_7_to_30_days_is_rejected(target: Target) -> None:
    kms = target.client("kms", TENANT_ACCOUNT)
    key = kms.create_key()["KeyMetadata"]
    codes = [
        error_code(kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=d)
        for d in (6, 31)
    ]
    real(target, codes, ["ValidationException"] * 2)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_cancel_key_deletion_leaves_the_key_disabled(local: Target) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert error_code(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == "DisabledException"
    assert error_code(kms.cancel_key_deletion, KeyId=key["KeyId"]) == "KMSInvalidStateException"


def test_primary_with_replicas_waits_in_pending_replica_deletion(target: Target) -> None:
    kms, key = _mrk(target)
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
    real(target, state, "PendingReplicaDeletion")


def test_deletion_clock_deletes_keys_whose_date_passed(local: Target, server: LocalAws) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    keep = kms.create_key()["KeyMetadata"]["KeyId"]
    doomed = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=doomed, Plaintext=b"x")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    server.advance_clock(days=6)
    assert kms.describe_key(KeyId=doomed)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    server.advance_clock(days=2)
    assert error_code(kms.describe_key, KeyId=doomed) == "NotFoundException"
    assert error_code(kms.decrypt, CiphertextBlob=blob) == "NotFoundException"
    assert error_code(kms.encrypt, KeyId=doomed, Plaintext=b"x") == "NotFoundException"
    assert kms.describe_key(KeyId=keep)["KeyMetadata"]["KeyState"] == "Enabled"


def test_primary_window_starts_when_its_last_replica_is_deleted(
    local: Target, server: LocalAws
) -> None:
    kms, key = _mrk(local)
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    replica = local.client("kms", TENANT_ACCOUNT, "eu-west-1")
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    replica.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=10)
    server.advance_clock(days=11)
    assert error_code(replica.describe_key, KeyId=key["KeyId"]) == "NotFoundException"
    primary = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert primary["KeyState"] == "PendingDeletion"
    assert primary["MultiRegionConfiguration"]["ReplicaKeys"] == []
    server.advance_clock(days=7)
    assert error_code(kms.describe_key, KeyId=key["KeyId"]) == "NotFoundException"


def _deny(principal: object, action: object) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{TENANT_ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": "*"},
            ],
        }
    )


def test_key_policy_deny_is_enforced_for_crypto_operations(target: Target) -> None:
    kms = target.client("kms", TENANT_ACCOUNT)
    key = kms.create_key(
        Policy=_deny(
            {"AWS": f"arn:aws:iam::{TENANT_ACCOUNT}:root"}, ["kms:GenerateDataKey*", "kms:Decrypt"]
        )
    )["KeyMetadata"]
    codes = [
        error_code(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256"),
        error_code(kms.generate_data_key_without_plaintext, KeyId=key["KeyId"], KeySpec="AES_256"),
    ]
    real(target, codes, ["AccessDeniedException"] * 2)
    assert error_code(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x") is None


def test_key_policy_deny_matches_only_its_principal(local: Target) -> None:
    iam = local.client("iam", TENANT_ACCOUNT)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": TENANT_ACCOUNT}}
        ],
    }
    role = iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    kms = local.client("kms", TENANT_ACCOUNT)
    key = kms.create_key(Policy=_deny({"AWS": role["Arn"]}, "kms:Describe*"))["KeyMetadata"]
    creds = local.client("sts", TENANT_ACCOUNT).assume_role(
        RoleArn=role["Arn"], RoleSessionName="reader"
    )["Credentials"]
    as_role = local.client("kms", creds=creds)
    assert error_code(as_role.describe_key, KeyId=key["KeyId"]) == "AccessDeniedException"
    assert error_code(kms.describe_key, KeyId=key["KeyId"]) is None  # root is not that role


MRK_ID = re.compile(r"mrk-[0-9a-f]{32}")


def test_multi_region_key_ids_have_the_real_shape(target: Target) -> None:
    kms, key = _mrk(target)
    real(target, bool(MRK_ID.fullmatch(key["KeyId"])), True)
    if target.fixed:  # the id works everywhere a key id goes, replicas and ciphertexts included
        assert key["Arn"].endswith(f":key/{key['KeyId']}")
        kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
        replica = target.client("kms", TENANT_ACCOUNT, "eu-west-1")
        assert replica.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        assert replica.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
        single = kms.create_key()["KeyMetadata"]["KeyId"]
        assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", single)
        missing = "mrk-" + "0" * 32
        assert error_code(kms.describe_key, KeyId=missing) == "NotFoundException"


def test_create_key_reports_aws_defaults(target: Target) -> None:
    kms = target.client("kms", TENANT_ACCOUNT)
    meta = kms.create_key()["KeyMetadata"]
    shown = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    real(target, (shown.get("KeyUsage"), shown.get("MultiRegion")), ("ENCRYPT_DECRYPT", False))


def test_another_accounts_key_by_arn_is_access_denied(target: Target) -> None:
    other = target.client("kms", OTHER_ACCOUNT)
    key = other.create_key(MultiRegion=True)["KeyMetadata"]
    kms = target.client("kms", TENANT_ACCOUNT)
    codes = [
        error_code(kms.describe_key, KeyId=key["Arn"]),
        error_code(kms.generate_data_key, KeyId=key["Arn"], KeySpec="AES_256"),
        error_code(kms.encrypt, KeyId=key["Arn"], Plaintext=b"x"),
        error_code(kms.replicate_key, KeyId=key["Arn"], ReplicaRegion="eu-west-1"),
    ]
    real(target, codes, ["AccessDeniedException"] * 4)
    if target.fixed:
        # Whether or not it exists: another account's keys are never revealed.
        gone = key["Arn"].replace(key["KeyId"], "mrk-" + "1" * 32)
        assert error_code(kms.describe_key, KeyId=gone) == "AccessDeniedException"
        alias = f"arn:aws:kms:us-east-1:{OTHER_ACCOUNT}:alias/theirs"
        assert error_code(kms.describe_key, KeyId=alias) == "AccessDeniedException"
        # The owner still reaches it, by ARN or id; the caller's own ARNs are unaffected.
        assert other.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyId"] == key["KeyId"]
        mine = kms.create_key()["KeyMetadata"]["Arn"]
        assert error_code(kms.describe_key, KeyId=mine) is None
