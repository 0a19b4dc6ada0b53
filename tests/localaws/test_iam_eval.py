"""IAM evaluation: identity policies, resource policies, explicit Deny, error codes per service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localaws import OTHER_ACCOUNT, SERVICE_ACCOUNT, TENANT_ACCOUNT

from .conftest import Target, error_code, real

V = "2012-10-17"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": V, "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def session(target: Target, *statements: dict[str, Any], account: str = TENANT_ACCOUNT,
            name: str = "App", managed: bool = False) -> dict[str, str]:
    """Credentials of a role in `account` with the given identity policy (inline, or one
    attached managed policy)."""
    iam = target.client("iam", account)
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    if statements and managed:
        arn = iam.create_policy(PolicyName=f"{name}P", PolicyDocument=_doc(*statements))[
            "Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    elif statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=_doc(*statements))
    return target.client("sts", account).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{name}", RoleSessionName="app")["Credentials"]


def test_a_role_without_identity_policy_may_do_nothing(target: Target) -> None:
    kms = target.client("kms", creds=session(target))
    real(target, error_code(kms.create_key), "AccessDeniedException")


def test_the_denial_names_principal_action_resource_and_reason(local: Target) -> None:
    kms = local.client("kms", creds=session(local))
    with pytest.raises(Exception) as caught:
        kms.create_key()
    error = caught.value.response["Error"]  # type: ignore[attr-defined]
    assert error["Message"] == (
        f"User: arn:aws:sts::{TENANT_ACCOUNT}:assumed-role/App/app is not authorized to perform: "
        "kms:CreateKey on resource: * because no identity-based policy allows the "
        "kms:CreateKey action")


@pytest.mark.parametrize("managed", [False, True], ids=["inline", "attached"])
def test_an_identity_policy_allows(local: Target, managed: bool) -> None:
    kms = local.client("kms", creds=session(local, allow("kms:CreateKey"), managed=managed))
    assert error_code(kms.create_key) is None


def test_explicit_deny_wins_over_allow(target: Target) -> None:
    creds = session(target, allow("kms:*"), deny("kms:CreateKey"))
    kms = target.client("kms", creds=creds)
    real(target, error_code(kms.create_key), "AccessDeniedException")


def test_resource_element_limits_the_allow(local: Target) -> None:
    key = local.client("kms", TENANT_ACCOUNT).create_key()["KeyMetadata"]
    other = local.client("kms", TENANT_ACCOUNT).create_key()["KeyMetadata"]
    kms = local.client("kms", creds=session(local, allow("kms:DescribeKey", key["Arn"])))
    assert error_code(kms.describe_key, KeyId=key["Arn"]) is None
    assert error_code(kms.describe_key, KeyId=other["Arn"]) == "AccessDeniedException"


def _key_policy(*principals: str) -> str:
    return _doc({"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "kms:*",
                 "Resource": "*"})


def test_a_key_policy_without_the_account_locks_out_even_its_root(target: Target) -> None:
    kms = target.client("kms", TENANT_ACCOUNT)
    key = kms.create_key(Policy=_key_policy(f"arn:aws:iam::{OTHER_ACCOUNT}:root"),
                         BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    real(target, error_code(kms.describe_key, KeyId=key["KeyId"]), "AccessDeniedException")


def test_cross_account_kms_needs_the_key_policy_and_the_identity_policy(local: Target) -> None:
    owner = local.client("kms", TENANT_ACCOUNT)
    shared = owner.create_key(Policy=_key_policy(f"arn:aws:iam::{TENANT_ACCOUNT}:root",
                                                 f"arn:aws:iam::{OTHER_ACCOUNT}:root"))
    private = owner.create_key()
    shared_arn, private_arn = shared["KeyMetadata"]["Arn"], private["KeyMetadata"]["Arn"]
    # The other account's root: its identity allows everything; the key policy decides.
    root = local.client("kms", OTHER_ACCOUNT)
    blob = root.encrypt(KeyId=shared_arn, Plaintext=b"x")["CiphertextBlob"]
    assert root.decrypt(CiphertextBlob=blob, KeyId=shared_arn)["Plaintext"] == b"x"
    assert error_code(root.encrypt, KeyId=private_arn, Plaintext=b"x") == "AccessDeniedException"
    # A role there needs its own identity policy as well.
    bare = local.client("kms", creds=session(local, account=OTHER_ACCOUNT, name="Bare"))
    assert error_code(bare.encrypt, KeyId=shared_arn, Plaintext=b"x") == "AccessDeniedException"
    granted = local.client("kms", creds=session(local, allow("kms:Encrypt", shared_arn),
                                                account=OTHER_ACCOUNT, name="Granted"))
    assert error_code(granted.encrypt, KeyId=shared_arn, Plaintext=b"x") is None


def test_assuming_another_accounts_role_needs_the_callers_identity_policy(local: Target) -> None:
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": SERVICE_ACCOUNT},
                  "Action": "sts:AssumeRole"})
    local.client("iam", TENANT_ACCOUNT).create_role(RoleName="Target",
                                                    AssumeRolePolicyDocument=trust)
    target_arn = f"arn:aws:iam::{TENANT_ACCOUNT}:role/Target"
    bare = local.client("sts", creds=session(local, account=SERVICE_ACCOUNT, name="Svc"))
    assert error_code(bare.assume_role, RoleArn=target_arn, RoleSessionName="xx") == "AccessDenied"
    ok = local.client("sts", creds=session(local, allow("sts:AssumeRole", target_arn),
                                           account=SERVICE_ACCOUNT, name="Svc2"))
    assert error_code(ok.assume_role, RoleArn=target_arn, RoleSessionName="xx") is None


def test_cross_account_sns_publish_needs_the_topic_policy(target: Target) -> None:
    topic = target.client("sns", SERVICE_ACCOUNT).create_topic(Name="callbacks")["TopicArn"]
    tenant = target.client("sns", TENANT_ACCOUNT)
    real(target, error_code(tenant.publish, TopicArn=topic, Message="m"), "AuthorizationError")
    if target.fixed:
        target.client("sns", SERVICE_ACCOUNT).set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=_doc({
                "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish",
                "Resource": topic}))
        assert error_code(tenant.publish, TopicArn=topic, Message="m") is None


def _subscribed_queue(target: Target, policy_source: str | None) -> tuple[Any, str, str]:
    sns, sqs = target.client("sns", SERVICE_ACCOUNT), target.client("sqs", SERVICE_ACCOUNT)
    topic = sns.create_topic(Name="t")["TopicArn"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    if policy_source is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _doc({
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": policy_source}}})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, Message="hello")
    return sqs, url, topic


def _received(sqs: Any, url: str) -> int:
    return len(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []))


def test_sns_delivers_to_sqs_only_under_a_queue_policy_for_that_topic(target: Target) -> None:
    sqs, url, _ = _subscribed_queue(target, None)
    real(target, _received(sqs, url), 0)


def test_sns_delivery_with_the_topics_source_arn(local: Target) -> None:
    topic_arn = f"arn:aws:sns:us-east-1:{SERVICE_ACCOUNT}:t"
    sqs, url, _ = _subscribed_queue(local, topic_arn)
    assert _received(sqs, url) == 1


def test_sns_delivery_with_another_topics_source_arn_is_dropped(local: Target) -> None:
    sqs, url, _ = _subscribed_queue(local, f"arn:aws:sns:us-east-1:{SERVICE_ACCOUNT}:other")
    assert _received(sqs, url) == 0


def test_sqs_denial_code(target: Target) -> None:
    url = target.client("sqs", SERVICE_ACCOUNT).create_queue(QueueName="q2")["QueueUrl"]
    sqs = target.client("sqs", creds=session(target, account=SERVICE_ACCOUNT))
    real(target, error_code(sqs.receive_message, QueueUrl=url), "AccessDenied")


def test_a_bucket_policy_deny_binds_even_the_owner(target: Target) -> None:
    s3 = target.client("s3", SERVICE_ACCOUNT)
    s3.create_bucket(Bucket="vault")
    s3.put_object(Bucket="vault", Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket="vault", Policy=_doc({
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::vault/*"}))
    real(target, error_code(s3.get_object, Bucket="vault", Key="k"), "AccessDenied")


def test_cross_account_s3_needs_the_bucket_policy(local: Target) -> None:
    s3 = local.client("s3", SERVICE_ACCOUNT)
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="published/t.yaml", Body=b"x")
    reader = local.client("s3", TENANT_ACCOUNT)
    assert error_code(reader.get_object, Bucket="templates", Key="published/t.yaml") == \
        "AccessDenied"
    s3.put_bucket_policy(Bucket="templates", Policy=_doc({
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::templates/published/*"}))
    assert reader.get_object(Bucket="templates", Key="published/t.yaml")["Body"].read() == b"x"


def test_an_operation_without_an_action_mapping_is_refused(local: Target) -> None:
    kms = local.client("kms", TENANT_ACCOUNT)
    with pytest.raises(Exception) as caught:
        kms.describe_custom_key_stores()
    error = caught.value.response["Error"]  # type: ignore[attr-defined]
    assert error["Code"] == "LocalAwsUnsupported"
    assert "kms:DescribeCustomKeyStores" in error["Message"]
