"""STS AssumeRole enforcement and accounts side by side."""

from __future__ import annotations

import json

import pytest

from localaws import OTHER_ACCOUNT, SERVICE_ACCOUNT, TENANT_ACCOUNT, LocalAws

from .conftest import Target, error_code, real

ROLE_ARN = f"arn:aws:iam::{TENANT_ACCOUNT}:role/ByokVaultKMSRole"


def _trust(principal: str, external_id: str | None = "ext-12345678") -> str:
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _role(target: Target, trust: str) -> None:
    target.client("iam", TENANT_ACCOUNT).create_role(
        RoleName="ByokVaultKMSRole", AssumeRolePolicyDocument=trust
    )


def _assume(target: Target, account: str = SERVICE_ACCOUNT, **kwargs: str) -> str | None:
    sts = target.client("sts", account)
    return error_code(sts.assume_role, RoleArn=ROLE_ARN, RoleSessionName="byok", **kwargs)


def test_assuming_a_role_that_does_not_exist_is_denied(target: Target) -> None:
    real(target, _assume(target, ExternalId="ext-12345678"), "AccessDenied")


@pytest.mark.parametrize("external_id", [None, "wrong-ext-id"])
def test_external_id_must_match_the_trust_condition(
    target: Target, external_id: str | None
) -> None:
    _role(target, _trust(f"arn:aws:iam::{SERVICE_ACCOUNT}:root"))
    kwargs = {"ExternalId": external_id} if external_id else {}
    real(target, _assume(target, **kwargs), "AccessDenied")


def test_trust_policy_must_admit_the_caller_account(target: Target) -> None:
    _role(target, _trust(SERVICE_ACCOUNT))
    assert _assume(target, SERVICE_ACCOUNT, ExternalId="ext-12345678") is None
    if target.fixed:  # stock moto has one account for every key
        assert _assume(target, OTHER_ACCOUNT, ExternalId="ext-12345678") == "AccessDenied"


def test_denial_has_aws_message_shape_and_status(local: Target) -> None:
    sts = local.client("sts", SERVICE_ACCOUNT)
    with pytest.raises(Exception) as caught:
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="byok", ExternalId="ext-12345678")
    response = caught.value.response  # type: ignore[attr-defined]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Message"] == (
        f"User: arn:aws:iam::{SERVICE_ACCOUNT}:root is not authorized to perform: "
        f"sts:AssumeRole on resource: {ROLE_ARN}"
    )


def test_role_chaining_matches_the_callers_role_arn(local: Target) -> None:
    iam = local.client("iam", SERVICE_ACCOUNT)
    service_role = iam.create_role(
        RoleName="Worker", AssumeRolePolicyDocument=_trust(SERVICE_ACCOUNT, None)
    )["Role"]["Arn"]
    # Across accounts the caller's own policy must allow the AssumeRole too.
    iam.put_role_policy(RoleName="Worker", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}]}))
    _role(local, _trust(service_role))
    creds = local.client("sts", SERVICE_ACCOUNT).assume_role(
        RoleArn=service_role, RoleSessionName="worker"
    )["Credentials"]
    as_worker = local.client("sts", creds=creds)
    tenant = as_worker.assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="byok", ExternalId="ext-12345678"
    )
    as_tenant = local.client("sts", creds=tenant["Credentials"])
    identity = as_tenant.get_caller_identity()
    assert identity["Account"] == TENANT_ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{TENANT_ACCOUNT}:assumed-role/ByokVaultKMSRole/byok"
    # Root of the service account is not the Worker role the trust policy names.
    assert _assume(local, SERVICE_ACCOUNT, ExternalId="ext-12345678") == "AccessDenied"


def test_accounts_side_by_side(local: Target) -> None:
    for account in (SERVICE_ACCOUNT, TENANT_ACCOUNT, OTHER_ACCOUNT):
        identity = local.client("sts", account).get_caller_identity()
        assert (identity["Account"], identity["Arn"]) == (account, f"arn:aws:iam::{account}:root")
    local.client("kms", TENANT_ACCOUNT).create_key()
    assert local.client("kms", SERVICE_ACCOUNT).list_keys()["Keys"] == []
    assert len(local.client("kms", TENANT_ACCOUNT).list_keys()["Keys"]) == 1


def test_closed_account_cannot_be_used_or_entered(local: Target, server: LocalAws) -> None:
    _role(local, _trust(SERVICE_ACCOUNT))
    creds = local.client("sts").assume_role(
        RoleArn=ROLE_ARN, RoleSessionName="byok", ExternalId="ext-12345678"
    )["Credentials"]
    server.close_account(TENANT_ACCOUNT)
    assert _assume(local, ExternalId="ext-12345678") == "AccessDenied"
    assert (
        error_code(local.client("sts", TENANT_ACCOUNT).get_caller_identity)
        == "InvalidClientTokenId"
    )
    kms = local.client("kms", creds=creds)
    assert error_code(kms.list_keys) == "UnrecognizedClientException"
    assert local.client("sts", SERVICE_ACCOUNT).get_caller_identity()["Account"] == SERVICE_ACCOUNT
