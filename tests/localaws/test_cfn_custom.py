"""Custom resources with an SNS ServiceToken as AWS runs them: in progress until a response
is PUT to the presigned ResponseURL; SUCCESS completes, FAILED and silence roll back."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from byok import service_stack
from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT, LocalAws

from .conftest import Target

TEMPLATE = """
Parameters:
  Topic: {Type: String}
  Marker: {Type: String, Default: one}
  Timeout: {Type: String, Default: ""}
Conditions:
  HasTimeout: !Not [!Equals [!Ref Timeout, ""]]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: CustomTestRole
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: "arn:aws:iam::111122223333:root"}
            Action: sts:AssumeRole
  Notify:
    Type: Custom::Notify
    Properties:
      ServiceToken: !Ref Topic
      ServiceTimeout: !If [HasTimeout, !Ref Timeout, !Ref AWS::NoValue]
      RoleArn: !GetAtt Role.Arn
      Marker: !Ref Marker
Outputs:
  Answer:
    Value: !GetAtt Notify.Answer
"""


def _queue(target: Target, region: str = "us-east-1",
           topic_policy: dict[str, Any] | None = None) -> tuple[str, Any, str]:
    """The service's own stack (service.yaml) in the service account: the topic, its policy,
    the queue and the subscription exactly as the product deploys them. topic_policy, when
    given, replaces the deployed topic policy."""
    cfn = target.client("cloudformation", SERVICE_ACCOUNT, region)
    params = {"VaultBucketName": f"cfn-custom-vault-{region}", "TemplateBucketName": ""}
    cfn.create_stack(StackName="service", TemplateBody=service_stack.template_text(),
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in params.items()])
    stack = cfn.describe_stacks(StackName="service")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    topic = out["CallbackTopicArn"]
    if topic_policy is not None:
        target.client("sns", SERVICE_ACCOUNT, region).set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(topic_policy))
    sqs = target.client("sqs", SERVICE_ACCOUNT, region)
    return topic, sqs, out["CallbackQueueUrl"]


def _request(sqs: Any, queue: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        if msgs:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=msgs[0]["ReceiptHandle"])
            return dict(json.loads(json.loads(msgs[0]["Body"])["Message"]))
    raise AssertionError("no custom-resource request reached the queue")


def _create(target: Target, topic: str, **params: str) -> Any:
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    values = {"Topic": topic, **params}
    cfn.create_stack(StackName="custom", TemplateBody=TEMPLATE,
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in values.items()])
    return cfn


def _status(cfn: Any) -> str:
    return str(cfn.describe_stacks(StackName="custom")["Stacks"][0]["StackStatus"])


def _reasons(cfn: Any) -> list[str]:
    events = cfn.describe_stack_events(StackName="custom")["StackEvents"]
    return [f"{e['LogicalResourceId']} {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
            for e in events]


def _put(url: str, body: dict[str, Any] | bytes) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": ""})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _answer(event: dict[str, Any], status: str = "SUCCESS", **extra: Any) -> dict[str, Any]:
    return {"Status": status, "PhysicalResourceId": "notify-1", "StackId": event["StackId"],
            "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
            **extra}


def _role_exists(target: Target) -> bool:
    iam = target.client("iam", TENANT_ACCOUNT)
    return any(r["RoleName"] == "CustomTestRole" for r in iam.list_roles()["Roles"])


def test_create_waits_for_success_and_data_reaches_getatt(local: Target) -> None:
    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic)
    event = _request(sqs, queue)
    assert event["RequestType"] == "Create" and event["ResourceProperties"]["Marker"] == "one"
    assert "/_localaws/cfn-response/" in event["ResponseURL"]
    time.sleep(0.2)
    assert _status(cfn) == "CREATE_IN_PROGRESS"  # nothing answered yet
    assert _put(event["ResponseURL"], _answer(event, Data={"Answer": "42"})) == 200
    stack = cfn.describe_stacks(StackName="custom")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"Answer": "42"}
    detail = cfn.describe_stack_resource(StackName="custom", LogicalResourceId="Notify")
    assert detail["StackResourceDetail"]["PhysicalResourceId"] == "notify-1"


def test_failed_rolls_back_with_the_reason_in_the_events(local: Target) -> None:
    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic)
    event = _request(sqs, queue)
    assert _role_exists(local)
    _put(event["ResponseURL"], _answer(event, "FAILED", Reason="the token expired"))
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    assert any("Notify CREATE_FAILED" in r and "the token expired" in r for r in _reasons(cfn))
    assert not _role_exists(local)  # the rollback deleted what the stack created
    # The failed resource gets its Delete request during the rollback, as on AWS.
    assert _request(sqs, queue)["RequestType"] == "Delete"


def test_no_answer_fails_after_service_timeout_on_the_clock(local: Target,
                                                           server: LocalAws) -> None:
    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic)
    _request(sqs, queue)
    server.advance_clock(seconds=3500)
    assert _status(cfn) == "CREATE_IN_PROGRESS"
    server.advance_clock(seconds=200)
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    assert any("Custom Resource failed to stabilize in expected time" in r
               for r in _reasons(cfn))


def test_service_timeout_property_is_honoured(local: Target, server: LocalAws) -> None:
    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic, Timeout="60")
    event = _request(sqs, queue)
    server.advance_clock(seconds=61)
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    # A late answer is stored by S3 but CloudFormation no longer reads it.
    assert _put(event["ResponseURL"], _answer(event)) == 200
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    assert [r["used"] for r in server.cfn_responses()] == [False]


def test_response_url_is_presigned_and_expires(local: Target, server: LocalAws) -> None:
    topic, sqs, queue = _queue(local)
    _create(local, topic)
    event = _request(sqs, queue)
    forged = event["ResponseURL"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert _put(forged, _answer(event)) == 403
    server.advance_clock(hours=2, seconds=1)
    assert _put(event["ResponseURL"], _answer(event)) == 403


@pytest.mark.parametrize(("change", "reason"), [
    ({"RequestId": "not-this-one"}, "RequestId does not match"),
    ({"PhysicalResourceId": ""}, "Invalid PhysicalResourceId"),
    ({"Status": "MAYBE"}, "Status must be SUCCESS or FAILED"),
    ({"Data": {"Big": "x" * 5000}}, "Response object is too long."),
])
def test_invalid_responses_fail_the_resource(local: Target, change: dict[str, Any],
                                             reason: str) -> None:
    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic)
    event = _request(sqs, queue)
    _put(event["ResponseURL"], _answer(event) | change)
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    assert any(reason in r for r in _reasons(cfn)), _reasons(cfn)


def test_service_token_must_be_in_the_stacks_region(local: Target) -> None:
    topic, _sqs, _queue_url = _queue(local, region="us-west-2")
    cfn = _create(local, topic)
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    assert any("must be in the stack's region" in r for r in _reasons(cfn))


def _update(cfn: Any, **params: str) -> None:
    cfn.update_stack(StackName="custom", TemplateBody=TEMPLATE,
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in params.items()])


def _complete(local: Target) -> tuple[str, Any, str, Any]:
    topic, sqs, queue = _queue(local)
    cfn = _create(local, topic)
    event = _request(sqs, queue)
    _put(event["ResponseURL"], _answer(event, Data={"Answer": "1"}))
    assert _status(cfn) == "CREATE_COMPLETE"
    return topic, sqs, queue, cfn


def test_update_waits_for_its_answer(local: Target) -> None:
    topic, sqs, queue, cfn = _complete(local)
    _update(cfn, Topic=topic, Marker="two")
    event = _request(sqs, queue)
    assert event["RequestType"] == "Update"
    assert event["OldResourceProperties"]["Marker"] == "one"
    assert event["PhysicalResourceId"] == "notify-1"
    assert _status(cfn) == "UPDATE_IN_PROGRESS"
    _put(event["ResponseURL"], _answer(event, Data={"Answer": "2"}))
    assert _status(cfn) == "UPDATE_COMPLETE"


def test_service_token_cannot_change_on_update(local: Target) -> None:
    _topic, _sqs, _queue_url, cfn = _complete(local)
    other = local.client("sns", SERVICE_ACCOUNT).create_topic(Name="other")["TopicArn"]
    _update(cfn, Topic=other)
    assert _status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    assert any("Modifying service token is not allowed." in r for r in _reasons(cfn))


def test_the_topic_policy_decides_whether_cloudformation_may_publish(local: Target) -> None:
    # A topic policy without the statement that lets other accounts publish: the tenant's
    # stack fails at once with CloudFormation's reason, and nothing reaches the queue.
    own_only = {"Version": "2012-10-17", "Statement": [{
        "Sid": "OwnerOnly", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{SERVICE_ACCOUNT}:root"},
        "Action": "sns:Publish", "Resource": "*"}]}
    topic, sqs, queue = _queue(local, topic_policy=own_only)
    cfn = _create(local, topic)
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    denied = f"User: arn:aws:iam::{TENANT_ACCOUNT}:root is not authorized to perform: SNS:Publish"
    assert any("Notify CREATE_FAILED" in r and denied in r for r in _reasons(cfn)), _reasons(cfn)
    assert not sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages")


def test_an_explicit_deny_for_the_stack_account_refuses_the_publish(local: Target) -> None:
    deny = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish",
         "Resource": "*"},
        {"Sid": "NotThisTenant", "Effect": "Deny", "Principal": {"AWS": TENANT_ACCOUNT},
         "Action": "sns:Publish", "Resource": "*"}]}
    topic, _sqs, _queue_url = _queue(local, topic_policy=deny)
    cfn = _create(local, topic)
    assert _status(cfn) == "ROLLBACK_COMPLETE"
    assert any("explicit deny in a resource-based policy" in r for r in _reasons(cfn))


def test_the_deployed_service_topic_policy_lets_tenant_stacks_publish(local: Target) -> None:
    topic, sqs, queue = _queue(local)  # service.yaml's own policy
    cfn = _create(local, topic)
    assert _request(sqs, queue)["RequestType"] == "Create"
    assert _status(cfn) == "CREATE_IN_PROGRESS"


def test_without_the_deployed_queue_policy_no_request_reaches_the_queue(local: Target) -> None:
    # service.yaml's queue policy has one statement (OnlyTheCallbackTopicSends): without it
    # SNS drops the tenant stack's request, and the stack waits for an answer that never comes.
    topic, sqs, queue = _queue(local)
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": ""})
    cfn = _create(local, topic)
    time.sleep(0.5)
    assert not sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages")
    assert _status(cfn) == "CREATE_IN_PROGRESS"
