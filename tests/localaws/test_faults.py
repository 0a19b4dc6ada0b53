"""Fault injection goes through botocore's real retry logic."""

from __future__ import annotations

import pytest

from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT, LocalAws

from .conftest import Target, error_code


def test_standard_retries_get_through_two_throttles(local: Target, server: LocalAws) -> None:
    kms = local.client("kms", TENANT_ACCOUNT, retries=2)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    server.inject_fault(
        service="kms", operation="GenerateDataKey", error_code="ThrottlingException", count=2
    )
    answer = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2


def test_more_throttles_than_retries_surface(local: Target, server: LocalAws) -> None:
    kms = local.client("kms", TENANT_ACCOUNT, retries=2)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    server.inject_fault(
        service="kms", operation="GenerateDataKey", error_code="ThrottlingException", count=3
    )
    with pytest.raises(Exception) as caught:
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    response = caught.value.response  # type: ignore[attr-defined]
    assert response["Error"]["Code"] == "ThrottlingException"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert kms.generate_data_key(KeyId=key, KeySpec="AES_256")["KeyId"]  # all used up


def test_query_protocol_throttle_is_retried(local: Target, server: LocalAws) -> None:
    server.inject_fault(
        service="sts", operation="GetCallerIdentity", error_code="Throttling", count=1
    )
    answer = local.client("sts", retries=1).get_caller_identity()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    server.inject_fault(
        service="cloudformation", operation="ListStacks", error_code="Throttling", count=1
    )
    assert error_code(local.client("cloudformation").list_stacks) == "Throttling"


def test_faults_can_target_one_account_and_be_cleared(local: Target, server: LocalAws) -> None:
    server.inject_fault(
        service="kms",
        operation="ListKeys",
        error_code="KMSInternalException",
        rate=1.0,
        account=TENANT_ACCOUNT,
        status=500,
    )
    assert error_code(local.client("kms", TENANT_ACCOUNT).list_keys) == "KMSInternalException"
    assert error_code(local.client("kms", SERVICE_ACCOUNT).list_keys) is None
    server.clear_faults()
    assert error_code(local.client("kms", TENANT_ACCOUNT).list_keys) is None
