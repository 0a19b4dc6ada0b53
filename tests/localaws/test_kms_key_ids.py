"""KMS key-management calls given a key ARN, an alias or an unknown key: AWS answers (success or
NotFoundException); stock moto raised a KeyError inside its backend, an HTTP 500."""

from __future__ import annotations

import json
from typing import Any

from localaws import TENANT_ACCOUNT

from .conftest import Target, error_code, real

GRANTEE = f"arn:aws:iam::{TENANT_ACCOUNT}:root"
MISSING = "0b1f4e3c-0c6e-4a4e-9d2b-7f0e6a1c2d3e"


def _key(target: Target, multi_region: bool = False) -> tuple[Any, dict[str, Any]]:
    kms = target.client("kms", TENANT_ACCOUNT)
    key = kms.create_key(MultiRegion=multi_region)["KeyMetadata"]
    kms.create_alias(AliasName="alias/tenant", TargetKeyId=key["KeyId"])
    return kms, key


def _state(kms: Any, key: dict[str, Any]) -> str:
    return str(kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"])


def test_disable_and_enable_accept_a_key_arn(target: Target) -> None:
    kms, key = _key(target)
    disabled = error_code(kms.disable_key, KeyId=key["Arn"])
    real(target, disabled, None)
    if target.fixed:
        assert _state(kms, key) == "Disabled"
    real(target, error_code(kms.enable_key, KeyId=key["Arn"]), None)
    if target.fixed:
        assert _state(kms, key) == "Enabled"


def test_schedule_and_cancel_deletion_accept_a_key_arn(target: Target) -> None:
    kms, key = _key(target)
    scheduled = error_code(kms.schedule_key_deletion, KeyId=key["Arn"], PendingWindowInDays=7)
    real(target, scheduled, None)
    if target.fixed:
        assert _state(kms, key) == "PendingDeletion"
    else:  # schedule it the way stock moto can, to try the cancel
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    try:
        answer = kms.cancel_key_deletion(KeyId=key["Arn"])
    except Exception as error:  # noqa: BLE001 - stock moto: a 500
        assert not target.fixed, error
        return
    real(target, answer["KeyId"], key["Arn"])
    assert _state(kms, key) == "Disabled"  # AWS: a cancelled key comes back disabled


def test_cancel_deletion_answers_the_key_arn_for_a_key_id(local: Target) -> None:
    kms, key = _key(local)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]


def test_key_id_or_arn_operations_refuse_an_alias_with_not_found(target: Target) -> None:
    kms, key = _key(target, multi_region=True)
    alias_arn = key["Arn"].split(":key/")[0] + ":alias/tenant"
    codes = [
        error_code(kms.rotate_key_on_demand, KeyId="alias/tenant"),
        error_code(kms.list_key_rotations, KeyId=alias_arn),
        error_code(kms.replicate_key, KeyId="alias/tenant", ReplicaRegion="eu-west-1"),
    ]
    real(target, codes, ["NotFoundException"] * 3)
    if target.fixed:  # the key id and key ARN work
        assert error_code(kms.rotate_key_on_demand, KeyId=key["Arn"]) is None
        assert kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]


def test_grants_on_an_unknown_key_are_not_found(target: Target) -> None:
    kms, key = _key(target)
    missing_arn = key["Arn"].replace(key["KeyId"], MISSING)
    codes = [
        error_code(kms.create_grant, KeyId=MISSING, GranteePrincipal=GRANTEE,
                   Operations=["Encrypt"]),
        error_code(kms.list_grants, KeyId=missing_arn),
        error_code(kms.revoke_grant, KeyId=MISSING, GrantId="a" * 64),
    ]
    real(target, codes, ["NotFoundException"] * 3)
    if target.fixed:
        grant = kms.create_grant(KeyId=key["Arn"], GranteePrincipal=GRANTEE,
                                 Operations=["Encrypt"])["GrantId"]
        assert [g["GrantId"] for g in kms.list_grants(KeyId=key["Arn"])["Grants"]] == [grant]
        kms.revoke_grant(KeyId=key["Arn"], GrantId=grant)
        assert error_code(kms.create_grant, KeyId="alias/tenant", GranteePrincipal=GRANTEE,
                          Operations=["Encrypt"]) == "NotFoundException"


def test_policy_rotation_tags_and_description_accept_a_key_arn(local: Target) -> None:
    """Already right in stock moto (its backend resolves ARNs here): guarded against regressions."""
    kms, key = _key(local)
    arn = key["Arn"]
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    policy["Statement"][0]["Sid"] = "Changed"
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == (
        policy
    )
    kms.enable_key_rotation(KeyId=arn)
    assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is True
    kms.disable_key_rotation(KeyId=arn)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.tag_resource(KeyId=arn, Tags=[{"TagKey": "tenant", "TagValue": "t1"}])
    assert kms.list_resource_tags(KeyId=arn)["Tags"] == [{"TagKey": "tenant", "TagValue": "t1"}]
    kms.untag_resource(KeyId=arn, TagKeys=["tenant"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []
    kms.update_key_description(KeyId=arn, Description="renamed")
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "renamed"
    assert kms.list_key_policies(KeyId=arn)["PolicyNames"] == ["default"]
