"""CloudFormation resource types localaws adds to moto: topic, queue and bucket policies,
subscriptions, bucket properties, Fn::If to AWS::NoValue in lists, Sub-referenced updates."""

from __future__ import annotations

import json

import pytest
import yaml

from localaws import SERVICE_ACCOUNT

from .conftest import Target, error_code

TOPIC_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish",
    "Resource": {"Ref": "Topic"}}]}


def template(*, with_policy: bool = True, bucket_versioned: bool = True) -> str:
    resources: dict = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
        "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Topic"}, "Protocol": "sqs",
            "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": "cfn-policies-bucket",
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                               "BlockPublicPolicy": True,
                                               "RestrictPublicBuckets": True},
            **({"VersioningConfiguration": {"Status": "Enabled"}} if bucket_versioned else {})}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "r",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "sqs:GetQueueUrl",
                     "Resource": {"Fn::Sub": "arn:aws:sqs:*:*:${Name}"}},
                    {"Fn::If": ["Never", {"Effect": "Allow", "Action": "sqs:SendMessage",
                                          "Resource": "*"}, {"Ref": "AWS::NoValue"}]}]}}]}},
    }
    if with_policy:
        resources["TopicPolicy"] = {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Topic"}], "PolicyDocument": TOPIC_POLICY}}
        resources["QueuePolicy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "Queue"}], "PolicyDocument": {"Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": "*"}]}}}
    return yaml.safe_dump({
        "Parameters": {"Name": {"Type": "String", "Default": "a"}},
        "Conditions": {"Never": {"Fn::Equals": ["x", "y"]}},
        "Resources": resources})


def params(name: str = "a") -> list[dict[str, str]]:
    return [{"ParameterKey": "Name", "ParameterValue": name}]


@pytest.fixture
def stack(local: Target) -> Target:
    local.client("cloudformation").create_stack(StackName="pol", TemplateBody=template(),
                                                Parameters=params(),
                                                Capabilities=["CAPABILITY_NAMED_IAM"])
    return local


def test_policies_subscription_and_bucket_properties_are_applied(stack):
    sns, sqs, s3 = stack.client("sns"), stack.client("sqs"), stack.client("s3")
    arn = f"arn:aws:sns:us-east-1:{SERVICE_ACCOUNT}:t"
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert policy["Statement"][0]["Action"] == "sns:Publish"
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    assert "Policy" in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sub["Endpoint"].endswith(":q")
    assert s3.get_bucket_versioning(Bucket="cfn-policies-bucket")["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket="cfn-policies-bucket")[
        "PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_an_if_that_picks_no_value_drops_the_statement_and_policies_are_json(stack):
    doc = stack.client("iam").get_role_policy(RoleName="r", PolicyName="p")["PolicyDocument"]
    assert isinstance(doc, dict) and len(doc["Statement"]) == 1


def test_a_parameter_used_only_in_a_sub_updates_its_resource(stack):
    stack.client("cloudformation").update_stack(StackName="pol", TemplateBody=template(),
                                                Parameters=params("b"),
                                                Capabilities=["CAPABILITY_NAMED_IAM"])
    doc = stack.client("iam").get_role_policy(RoleName="r", PolicyName="p")["PolicyDocument"]
    assert doc["Statement"][0]["Resource"] == "arn:aws:sqs:*:*:b"


def test_removing_a_policy_from_the_template_removes_it(stack):
    stack.client("cloudformation").update_stack(
        StackName="pol", TemplateBody=template(with_policy=False), Parameters=params(),
        Capabilities=["CAPABILITY_NAMED_IAM"])
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]
    arn = f"arn:aws:sns:us-east-1:{SERVICE_ACCOUNT}:t"
    policy = stack.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    assert json.loads(policy)["Statement"][0]["Sid"] == "__default_statement_ID"


def test_deleting_the_stack_unsubscribes(stack):
    stack.client("cloudformation").delete_stack(StackName="pol")
    assert stack.client("sns").list_subscriptions()["Subscriptions"] == []
    assert error_code(stack.client("sqs").get_queue_url, QueueName="q") is not None


def test_a_tls_only_bucket_policy_does_not_lock_localaws_clients_out(stack):
    s3 = stack.client("s3")
    s3.put_bucket_policy(Bucket="cfn-policies-bucket", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::cfn-policies-bucket/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    s3.put_object(Bucket="cfn-policies-bucket", Key="k", Body=b"v")
    # An unconditional Deny still denies.
    s3.put_bucket_policy(Bucket="cfn-policies-bucket", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::cfn-policies-bucket/*"}]}))
    assert error_code(s3.put_object, Bucket="cfn-policies-bucket", Key="k", Body=b"v") is not None
