"""Condition operators and keys, ReplicateKey's extra permissions, malformed policy documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT
from localaws.conditions import UnsupportedCondition, hold

from .conftest import Target, error_code, real
from .test_iam_eval import _doc, allow, session

CONTEXT: dict[str, list[str]] = {
    "aws:sourcearn": ["arn:aws:sns:us-east-1:111122223333:topic"],
    "kms:encryptioncontextkeys": ["tenant", "purpose"],
    "aws:principalaccount": ["444455556666"],
}


def _lookup(key: str) -> list[str] | None:
    return CONTEXT.get(key.lower())


@pytest.mark.parametrize(("condition", "expected"), [
    ({"StringEquals": {"aws:PrincipalAccount": "444455556666"}}, True),
    ({"StringEquals": {"aws:PrincipalAccount": ["1", "444455556666"]}}, True),
    ({"StringEquals": {"aws:PrincipalAccount": "1"}}, False),
    ({"StringEquals": {"sts:ExternalId": "x"}}, False),  # missing key
    ({"StringNotEquals": {"aws:PrincipalAccount": "1"}}, True),
    ({"StringNotEquals": {"aws:PrincipalAccount": "444455556666"}}, False),
    ({"StringNotEquals": {"sts:ExternalId": "x"}}, True),  # missing key: negation holds
    ({"StringLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}}, True),
    ({"StringLike": {"aws:SourceArn": "arn:aws:sqs:*"}}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:top*"}}, True),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:999999999999:*"}}, False),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}}, True),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:other"}}, False),
    ({"Bool": {"kms:MultiRegion": "true"}}, False),  # missing
    ({"StringEqualsIfExists": {"sts:ExternalId": "x"}}, True),
    ({"StringEqualsIfExists": {"aws:PrincipalAccount": "1"}}, False),
    ({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}, True),
    ({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["other"]}}, False),
    ({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}, False),
    ({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant", "purpose"]}}, True),
    ({"Null": {"sts:ExternalId": "true"}}, True),
    ({"Null": {"aws:SourceArn": "true"}}, False),
    ({"StringEquals": {"aws:PrincipalAccount": "444455556666"},
      "StringLike": {"aws:SourceArn": "nope"}}, False),  # operators AND
])
def test_operators(condition: dict[str, Any], expected: bool) -> None:
    normalized = {op: {k: v if isinstance(v, list) else [v] for k, v in pairs.items()}
                  for op, pairs in condition.items()}
    assert hold(normalized, _lookup) is expected


@pytest.mark.parametrize("condition", [
    {"NumericLessThan": {"aws:PrincipalAccount": ["1"]}},
    {"StringEquals": {"aws:SecureTransport": ["true"]}},
    {"Maybe:StringEquals": {"aws:PrincipalAccount": ["1"]}},
])
def test_unsupported_operators_and_keys_are_errors_never_true(condition: Any) -> None:
    with pytest.raises(UnsupportedCondition, match="localaws cannot evaluate"):
        hold(condition, _lookup)


def test_an_unsupported_key_in_a_policy_fails_the_request_clearly(local: Target) -> None:
    statement = allow("kms:CreateKey", Condition={"Bool": {"aws:SecureTransport": "true"}})
    kms = local.client("kms", creds=session(local, statement))
    with pytest.raises(Exception) as caught:
        kms.create_key()
    error = caught.value.response["Error"]  # type: ignore[attr-defined]
    assert error["Code"] == "LocalAwsUnsupported" and "aws:SecureTransport" in error["Message"]


def test_resource_tag_and_request_tag_conditions(local: Target) -> None:
    root = local.client("kms", TENANT_ACCOUNT)
    tagged = root.create_key(Tags=[{"TagKey": "byok-vault", "TagValue": "v1"}])["KeyMetadata"]
    plain = root.create_key()["KeyMetadata"]
    creds = session(local, allow("kms:DescribeKey", Condition={
        "StringEquals": {"aws:ResourceTag/byok-vault": "v1"}}), allow("kms:CreateKey", Condition={
            "StringEquals": {"aws:RequestTag/team": "backup"}}))
    kms = local.client("kms", creds=creds)
    assert error_code(kms.describe_key, KeyId=tagged["Arn"]) is None
    assert error_code(kms.describe_key, KeyId=plain["Arn"]) == "AccessDeniedException"
    assert error_code(kms.create_key) == "AccessDeniedException"
    assert error_code(kms.create_key, Tags=[{"TagKey": "team", "TagValue": "backup"}]) is None


def test_encryption_context_and_caller_account_conditions(local: Target) -> None:
    key = local.client("kms", TENANT_ACCOUNT).create_key()["KeyMetadata"]["Arn"]
    creds = session(local, allow("kms:GenerateDataKey", key, Condition={
        "StringEquals": {"kms:EncryptionContext:tenant": "t1",
                         "kms:CallerAccount": TENANT_ACCOUNT}}))
    kms = local.client("kms", creds=creds)
    ok = {"KeyId": key, "KeySpec": "AES_256"}
    assert error_code(kms.generate_data_key, **ok, EncryptionContext={"tenant": "t1"}) is None
    assert error_code(kms.generate_data_key, **ok, EncryptionContext={"tenant": "t2"}) == \
        "AccessDeniedException"


# ReplicateKey: kms:ReplicateKey on the primary (kms:ReplicaRegion), kms:CreateKey in the
# replica's region, kms:TagResource not scoped to one key when Tags are given.
def _primary(target: Target) -> str:
    return str(target.client("kms", TENANT_ACCOUNT).create_key(MultiRegion=True)[
        "KeyMetadata"]["Arn"])


def _replicate(target: Target, key: str, *statements: dict[str, Any], name: str = "App",
               **kwargs: Any) -> Any:
    kms = target.client("kms", creds=session(target, *statements, name=name))
    return error_code(kms.replicate_key, KeyId=key, ReplicaRegion="eu-west-1", **kwargs)


REPLICA_ONLY = {"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}}


def test_replicate_key_needs_create_key(target: Target) -> None:
    key = _primary(target)
    real(target, _replicate(target, key, allow("kms:ReplicateKey", key)),
         "AccessDeniedException")


def test_replicate_key_with_its_permissions_succeeds(local: Target) -> None:
    key = _primary(local)
    assert _replicate(local, key, allow("kms:ReplicateKey", key),
                      allow("kms:CreateKey", Condition=REPLICA_ONLY)) is None


def test_replicate_key_is_limited_by_replica_region(local: Target) -> None:
    key = _primary(local)
    statement = allow("kms:ReplicateKey", key, Condition={
        "StringEquals": {"kms:ReplicaRegion": ["us-west-2"]}})
    assert _replicate(local, key, statement, allow("kms:CreateKey", Condition=REPLICA_ONLY)) \
        == "AccessDeniedException"


def test_create_key_must_be_effective_in_the_replica_region(local: Target) -> None:
    key = _primary(local)
    create_here = allow("kms:CreateKey", Condition={
        "StringEquals": {"aws:RequestedRegion": "us-east-1"}})
    assert _replicate(local, key, allow("kms:ReplicateKey", key), create_here) == \
        "AccessDeniedException"


def test_replicate_key_with_tags_needs_tag_resource_on_any_key(local: Target) -> None:
    tags = [{"TagKey": "a", "TagValue": "b"}]

    def base(key: str) -> list[dict[str, Any]]:
        return [allow("kms:ReplicateKey", key), allow("kms:CreateKey", Condition=REPLICA_ONLY)]

    key = _primary(local)
    scoped = allow("kms:TagResource", key.replace("us-east-1", "*"))
    assert _replicate(local, key, *base(key), scoped, Tags=tags) == "AccessDeniedException"
    key = _primary(local)
    assert _replicate(local, key, *base(key), allow("kms:TagResource"), Tags=tags,
                      name="App2") is None


# MalformedPolicyDocument at creation.
BAD = ["{not json", json.dumps({"Statement": [allow("kms:*")]}),
       json.dumps({"Version": "2012-10-17"}),
       json.dumps({"Version": "2012-10-17", "Statement": [{"Action": "kms:*", "Resource": "*"}]}),
       json.dumps({"Version": "2012-10-17", "Statement": [{**allow("kms:*"), "Effect": "Maybe"}]})]
BAD_IDS = ["not-json", "no-version", "no-statement", "no-effect", "unknown-effect"]


def _with_principal(document: str) -> str:
    try:
        parsed = json.loads(document)
    except ValueError:
        return document
    for s in parsed.get("Statement", []):
        s["Principal"] = {"AWS": TENANT_ACCOUNT}
    return json.dumps(parsed)


@pytest.mark.parametrize("document", BAD, ids=BAD_IDS)
def test_malformed_identity_policies_are_refused(local: Target, document: str) -> None:
    iam = local.client("iam", TENANT_ACCOUNT)
    iam.create_role(RoleName="R", AssumeRolePolicyDocument=_doc(
        {"Effect": "Allow", "Principal": {"AWS": TENANT_ACCOUNT}, "Action": "sts:AssumeRole"}))
    assert error_code(iam.put_role_policy, RoleName="R", PolicyName="p",
                      PolicyDocument=document) == "MalformedPolicyDocument"
    assert error_code(iam.create_policy, PolicyName="p", PolicyDocument=document) == \
        "MalformedPolicyDocument"


@pytest.mark.parametrize("document", BAD, ids=BAD_IDS)
def test_malformed_trust_and_key_policies_are_refused(target: Target, document: str) -> None:
    iam, kms = target.client("iam", TENANT_ACCOUNT), target.client("kms", SERVICE_ACCOUNT)
    trust = _with_principal(document)
    real(target, error_code(iam.create_role, RoleName="R", AssumeRolePolicyDocument=trust),
         "MalformedPolicyDocument")
    real(target, error_code(kms.create_key, Policy=trust), "MalformedPolicyDocumentException")
    if target.fixed:
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        assert error_code(kms.put_key_policy, KeyId=key, PolicyName="default",
                          Policy=trust) == "MalformedPolicyDocumentException"
