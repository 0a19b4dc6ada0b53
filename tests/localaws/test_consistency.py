"""Replicas that take time, eventual consistency on demand, and opt-in regions not enabled."""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest

from localaws import TENANT_ACCOUNT, LocalAws

from .conftest import Target, error_code


def _mrk(local: Target) -> tuple[Any, dict[str, Any]]:
    kms = local.client("kms", TENANT_ACCOUNT)
    return kms, kms.create_key(MultiRegion=True)["KeyMetadata"]


def test_a_replica_is_creating_for_the_configured_time_then_enabled(
        local: Target, server: LocalAws) -> None:
    assert server.consistency()["replica_creating_seconds"] == 2  # the default: a few seconds
    server.consistency(replica_creating_seconds=60)
    kms, key = _mrk(local)
    out = kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    assert out["ReplicaKeyMetadata"]["KeyState"] == "Creating"
    replica = local.client("kms", TENANT_ACCOUNT, "eu-west-1")
    assert replica.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Creating"
    server.advance_clock(seconds=59)
    assert replica.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Creating"
    server.advance_clock(seconds=2)
    assert replica.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_new_key_is_not_found_for_n_seconds(local: Target, server: LocalAws) -> None:
    server.consistency(key_seconds=30)
    kms, key = _mrk(local)
    assert error_code(kms.describe_key, KeyId=key["KeyId"]) == "NotFoundException"
    assert error_code(kms.describe_key, KeyId=key["Arn"]) == "NotFoundException"
    server.advance_clock(seconds=31)
    assert error_code(kms.describe_key, KeyId=key["KeyId"]) is None


def test_a_new_replica_is_not_found_in_its_region_for_n_seconds(
        local: Target, server: LocalAws) -> None:
    server.consistency(replica_seconds=30, replica_creating_seconds=0)
    kms, key = _mrk(local)
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion="eu-west-1")
    replica = local.client("kms", TENANT_ACCOUNT, "eu-west-1")
    assert error_code(replica.describe_key, KeyId=key["KeyId"]) == "NotFoundException"
    assert error_code(kms.describe_key, KeyId=key["KeyId"]) is None  # the primary is old
    server.advance_clock(seconds=31)
    assert error_code(replica.describe_key, KeyId=key["KeyId"]) is None


def test_a_new_role_cannot_be_assumed_for_n_seconds(local: Target, server: LocalAws) -> None:
    server.consistency(role_seconds=20)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": TENANT_ACCOUNT}}]}
    role = local.client("iam", TENANT_ACCOUNT).create_role(
        RoleName="Fresh", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    sts = local.client("sts", TENANT_ACCOUNT)
    assert error_code(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="session") == \
        "AccessDenied"
    server.advance_clock(seconds=21)
    assert error_code(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="session") is None


def test_a_region_not_enabled_refuses_the_account_there_only(
        local: Target, server: LocalAws) -> None:
    kms, key = _mrk(local)
    server.disable_region(TENANT_ACCOUNT, "ap-east-1")
    there = local.client("kms", TENANT_ACCOUNT, "ap-east-1")
    assert error_code(there.list_keys) == "UnrecognizedClientException"
    assert error_code(kms.list_keys) is None
    assert error_code(local.client("kms", "777788889999", "ap-east-1").list_keys) is None
    assert error_code(kms.replicate_key, KeyId=key["KeyId"],
                      ReplicaRegion="ap-east-1") == "UnsupportedOperationException"


def test_reset_restores_the_defaults_and_an_unknown_setting_is_refused(
        local: Target, server: LocalAws) -> None:
    server.consistency(key_seconds=5)
    server.disable_region(TENANT_ACCOUNT, "ap-east-1")
    server.reset()
    assert server.consistency() == {"replica_creating_seconds": 2, "role_seconds": 0,
                                    "key_seconds": 0, "replica_seconds": 0}
    assert error_code(local.client("kms", TENANT_ACCOUNT, "ap-east-1").list_keys) is None
    with pytest.raises(urllib.error.HTTPError) as info:
        server.consistency(typo_seconds=1)
    assert info.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        server.consistency(key_seconds=-1)
    assert server.consistency()["key_seconds"] == 0
