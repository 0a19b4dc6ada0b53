"""CloudFormation fidelity for the tenant stack: keys, parameters, conditions, updates."""

from __future__ import annotations

import json
import time

import pytest

from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT, LocalAws

from .conftest import Target, error_code, real
from .templates import TEMPLATE, TEMPLATE_V3

TOKEN = "0123456789abcdef0123456789abcdef0123"


def _params(**overrides: str) -> list[dict[str, str]]:
    values = {"ExternalId": "ext-12345678", "VaultToken": TOKEN, **overrides}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def _create(target: Target, **overrides: str) -> dict:
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    cfn.create_stack(
        StackName="byok",
        TemplateBody=TEMPLATE,
        Parameters=_params(**overrides),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName="byok")["Stacks"][0]
    stack["out"] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return stack


def _resources(target: Target) -> list[str]:
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    return [
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName="byok")["StackResourceSummaries"]
    ]


def test_stack_key_is_multi_region_with_rotation_and_object_policy(target: Target) -> None:
    stack = _create(target)
    kms = target.client("kms", TENANT_ACCOUNT)
    code = error_code(kms.describe_key, KeyId=stack["out"]["KeyArn"])
    real(target, code, None)  # stock moto: the object KeyPolicy breaks describe_key
    if target.fixed:
        meta = kms.describe_key(KeyId=stack["out"]["KeyArn"])["KeyMetadata"]
        assert meta["MultiRegion"] and meta["KeyId"].startswith("mrk-")
        assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
        assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]
        assert stack["out"]["RoleArn"] == f"arn:aws:iam::{TENANT_ACCOUNT}:role/ByokVaultKMSRole"
        assert stack["out"]["RoleName"] == "ByokVaultKMSRole"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ExternalId": "short"}, "Parameter 'ExternalId' must contain at least 8 characters"),
        ({"ExternalId": "x" * 129}, "Parameter 'ExternalId' must contain at most 128 characters"),
        (
            {"ExternalId": "has spaces!"},
            "Parameter 'ExternalId' must match pattern [A-Za-z0-9+=,.@:/-]*",
        ),
        ({"VaultToken": "too-short"}, "Parameter 'VaultToken' must contain at least 36 characters"),
        (
            {"ServiceAccountId": "999999999999"},
            "Parameter 'ServiceAccountId' must be one of AllowedValues",
        ),
        ({"Unknown": "x"}, "Parameters: [Unknown] do not exist in the template"),
    ],
)
def test_parameter_constraints_are_validated(target: Target, overrides: dict, message: str) -> None:
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    try:
        cfn.create_stack(
            StackName="byok",
            TemplateBody=TEMPLATE,
            Parameters=_params(**overrides),
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        observed = None
    except Exception as error:  # noqa: BLE001 - a ClientError, or stock moto's surprise
        observed = (error.response["Error"]["Code"], error.response["Error"]["Message"])  # type: ignore[attr-defined]
    real(target, observed, ("ValidationError", message))


def test_parameter_constraints_are_validated_on_update(local: Target) -> None:
    _create(local)
    cfn = local.client("cloudformation", TENANT_ACCOUNT)
    code = error_code(
        cfn.update_stack,
        StackName="byok",
        TemplateBody=TEMPLATE_V3,
        Parameters=_params(ExternalId="short"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    assert code == "ValidationError"
    assert set(_resources(local)) == {"Key", "Role"}


def test_conditions_skip_the_key_when_the_tenant_brings_one(target: Target) -> None:
    existing = target.client("kms", TENANT_ACCOUNT).create_key(MultiRegion=True)["KeyMetadata"]
    stack = _create(target, UserMultiRegionCMKKeyId=existing["KeyId"])
    assert stack["out"]["KeyArn"] == existing["KeyId"]
    assert len(target.client("kms", TENANT_ACCOUNT).list_keys()["Keys"]) == 1
    real(target, sorted(_resources(target)), ["Role"])  # stock lists a blank resource too


def test_custom_resource_with_sns_service_token(target: Target) -> None:
    sns, sqs = target.client("sns", SERVICE_ACCOUNT), target.client("sqs", SERVICE_ACCOUNT)
    topic = sns.create_topic(Name="byok-callback")["TopicArn"]
    # The tenant's stack publishes only where the topic policy lets its account.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": TENANT_ACCOUNT}, "Action": "sns:Publish",
            "Resource": topic}]}))
    queue = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    # SNS delivers only where the queue's policy lets this topic send.
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn["Attributes"]["QueueArn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})})
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    code = error_code(_create, target, CallbackTopicArn=topic)
    real(target, code, None)
    if not target.fixed:
        return
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    # In progress until the request is answered (tests/localaws/test_cfn_custom.py).
    assert cfn.describe_stacks(StackName="byok")["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    event = json.loads(_receive(sqs, queue))
    assert event["RequestType"] == "Create"
    assert event["ResourceProperties"]["Token"] == TOKEN
    assert event["ResourceProperties"]["KeyArn"].startswith(
        f"arn:aws:kms:us-east-1:{TENANT_ACCOUNT}:key/mrk-"
    )
    cfn.delete_stack(StackName="byok")
    assert json.loads(_receive(sqs, queue))["RequestType"] == "Delete"


def _receive(sqs: object, queue: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])  # type: ignore[attr-defined]
        if messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])  # type: ignore[attr-defined]
            return str(messages[0]["Body"])
        time.sleep(0.05)
    raise AssertionError("no custom-resource request reached the topic")


def test_update_stack_updates_the_role_and_keeps_the_key(target: Target) -> None:
    key_arn = _create(target)["out"]["KeyArn"]
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    updated = error_code(
        cfn.update_stack,
        StackName="byok",
        TemplateBody=TEMPLATE_V3,
        Parameters=_params(ExternalId="rotated-ext-id"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    iam = target.client("iam", TENANT_ACCOUNT)
    policy = iam.get_role_policy(RoleName="ByokVaultKMSRole", PolicyName="byok-kms")[
        "PolicyDocument"
    ]
    sts = target.client("sts", SERVICE_ACCOUNT)
    role = f"arn:aws:iam::{TENANT_ACCOUNT}:role/ByokVaultKMSRole"
    observed = {
        "update": updated,
        "resources": sorted(_resources(target)),
        "role policy updated": "kms:ReplicateKey" in json.dumps(policy),
        "old ExternalId": error_code(
            sts.assume_role, RoleArn=role, RoleSessionName="byok", ExternalId="ext-12345678"
        ),
    }
    # Stock moto keeps the old policies and trust, and drops the modified key.
    real(
        target,
        observed,
        {
            "update": None,
            "resources": ["Key", "Role"],
            "role policy updated": True,
            "old ExternalId": "AccessDenied",
        },
    )
    if not target.fixed:
        return
    stack = cfn.describe_stacks(StackName="byok")["Stacks"][0]
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["KeyArn"] == key_arn
    meta = target.client("kms", TENANT_ACCOUNT).describe_key(KeyId=key_arn)["KeyMetadata"]
    assert (meta["KeyState"], meta["Description"]) == ("Enabled", "byok-vault tenant key (v3)")
    assert (
        error_code(
            sts.assume_role, RoleArn=role, RoleSessionName="byok", ExternalId="rotated-ext-id"
        )
        is None
    )


def test_stack_role_trust_policy_is_enforced(local: Target) -> None:
    role = _create(local)["out"]["RoleArn"]
    sts = local.client("sts", SERVICE_ACCOUNT)
    assert error_code(sts.assume_role, RoleArn=role, RoleSessionName="byok") == "AccessDenied"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="byok", ExternalId="ext-12345678")
    assert creds["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{TENANT_ACCOUNT}:assumed-role/"
    )


def test_deleting_the_stack_schedules_key_deletion(local: Target, server: LocalAws) -> None:
    key_arn = _create(local)["out"]["KeyArn"]
    local.client("cloudformation", TENANT_ACCOUNT).delete_stack(StackName="byok")
    kms = local.client("kms", TENANT_ACCOUNT)
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    server.advance_clock(days=31)
    assert error_code(kms.describe_key, KeyId=key_arn) == "NotFoundException"
