"""deploy_service_stack puts every resource and policy of service.yaml into localaws."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from byok.aws import AwsClients
from byok.errors import AwsError
from byok.settings import Settings
from control.service_deploy import deploy_service_stack

from .conftest import REGION

ACCOUNT = "111122223333"


@pytest.fixture
def deployed(svc_aws: AwsClients, svc_settings: Settings):
    return deploy_service_stack(svc_aws, svc_settings)


def test_outputs_name_what_the_settings_say(deployed, svc_settings):
    assert deployed.action == "created"
    assert deployed.callback_topic_arn == svc_settings.callback_topic_arn
    assert deployed.service_role_arn == svc_settings.service_role_arn
    assert deployed.vault_bucket == "acme-byok-vault"
    assert deployed.template_bucket == "acme-byok-templates"
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:byok-vault-stack-callbacks"
    assert deployed.callback_queue_arn == queue_arn


def test_topic_policy_grants_publish_only(deployed, svc_aws):
    attrs = svc_aws.base("sns").get_topic_attributes(TopicArn=deployed.callback_topic_arn)
    stmts = json.loads(attrs["Attributes"]["Policy"])["Statement"]
    assert {s["Sid"] for s in stmts} == {"TenantStacksPublish"}
    assert all(s["Effect"] == "Allow" and s["Action"] == "sns:Publish"
               and s["Resource"] == deployed.callback_topic_arn for s in stmts)


def test_queue_takes_only_the_topic_and_dead_letters(deployed, svc_aws):
    sqs = svc_aws.base("sqs")
    url = sqs.get_queue_url(QueueName="byok-vault-stack-callbacks")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    (stmt,) = json.loads(attrs["Policy"])["Statement"]
    assert stmt["Principal"] == {"Service": "sns.amazonaws.com"}
    assert stmt["Action"] == "sqs:SendMessage"
    assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": deployed.callback_topic_arn}}
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":byok-vault-stack-callbacks-dlq")
    assert int(redrive["maxReceiveCount"]) == 5
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"


def test_a_published_callback_reaches_the_queue(deployed, svc_aws):
    svc_aws.base("sns").publish(TopicArn=deployed.callback_topic_arn, Message='{"x": 1}')
    sqs = svc_aws.base("sqs")
    url = sqs.get_queue_url(QueueName="byok-vault-stack-callbacks")["QueueUrl"]
    msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    # Not raw: the consumer reads SNS's envelope (TopicArn, Message).
    body = json.loads(msgs[0]["Body"])
    assert body["TopicArn"] == deployed.callback_topic_arn and body["Message"] == '{"x": 1}'


def test_vault_bucket_is_private_encrypted_tls_only_in_its_region(deployed, svc_aws):
    s3 = svc_aws.base("s3")
    assert s3.get_bucket_location(Bucket="acme-byok-vault")["LocationConstraint"] == REGION
    block = s3.get_public_access_block(Bucket="acme-byok-vault")["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rule = s3.get_bucket_encryption(Bucket="acme-byok-vault")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (stmt,) = json.loads(s3.get_bucket_policy(Bucket="acme-byok-vault")["Policy"])["Statement"]
    assert stmt["Effect"] == "Deny" and stmt["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    # localaws counts as TLS: the deny does not lock the service out of its own vault.
    s3.put_object(Bucket="acme-byok-vault", Key="k", Body=b"v")
    assert s3.get_object(Bucket="acme-byok-vault", Key="k")["Body"].read() == b"v"


def test_template_bucket_is_versioned_and_readable_only_under_the_prefix(deployed, svc_aws):
    s3 = svc_aws.base("s3")
    assert s3.get_bucket_versioning(Bucket="acme-byok-templates")["Status"] == "Enabled"
    assert s3.get_bucket_location(Bucket="acme-byok-templates")["LocationConstraint"] == REGION
    block = s3.get_public_access_block(Bucket="acme-byok-templates")[
        "PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] and block["IgnorePublicAcls"]
    stmts = json.loads(s3.get_bucket_policy(Bucket="acme-byok-templates")["Policy"])["Statement"]
    read = next(s for s in stmts if s["Effect"] == "Allow")
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == "arn:aws:s3:::acme-byok-templates/templates/*"
    ownership = s3.get_bucket_ownership_controls(Bucket="acme-byok-templates")
    assert ownership["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_service_role_policy_is_the_declared_one(deployed, svc_aws):
    iam = svc_aws.base("iam")
    role = iam.get_role(RoleName="ByokVaultService")["Role"]
    assert role["Arn"] == deployed.service_role_arn
    doc = iam.get_role_policy(RoleName="ByokVaultService", PolicyName="ByokVaultService")
    sids = {s["Sid"]: s for s in doc["PolicyDocument"]["Statement"]}
    assert set(sids) == {"AssumeTenantRoles", "NoRolesOfThisAccount", "ReadCallbacks",
                         "ListVault", "ReadWriteVault", "UseDefaultKeys"}
    assert sids["AssumeTenantRoles"]["Resource"] == "arn:aws:iam::*:role/ByokVault*"
    assert sids["ReadWriteVault"]["Resource"] == "arn:aws:s3:::acme-byok-vault/*"


def test_second_deploy_changes_nothing_and_a_changed_setting_updates(deployed, svc_aws,
                                                                    svc_settings):
    again = deploy_service_stack(svc_aws, svc_settings)
    assert again.action == "unchanged" and again == deployed.__class__(
        **{**deployed.__dict__, "action": "unchanged"})
    changed = svc_settings.model_copy(update={"tenant_role_name_pattern": "AcmeByok*"})
    assert deploy_service_stack(svc_aws, changed).action == "updated"
    doc = svc_aws.base("iam").get_role_policy(RoleName="ByokVaultService",
                                             PolicyName="ByokVaultService")["PolicyDocument"]
    assume = next(s for s in doc["Statement"] if s["Sid"] == "AssumeTenantRoles")
    assert assume["Resource"] == "arn:aws:iam::*:role/AcmeByok*"


def test_without_a_template_bucket_there_is_none(svc_aws, svc_settings):
    settings = svc_settings.model_copy(update={"template_bucket": ""})
    out = deploy_service_stack(svc_aws, settings)
    assert out.template_bucket == ""
    with pytest.raises(ClientError):
        svc_aws.base("s3").head_bucket(Bucket="acme-byok-templates")
    doc = svc_aws.base("iam").get_role_policy(RoleName="ByokVaultService",
                                             PolicyName="ByokVaultService")["PolicyDocument"]
    assert "acme-byok-templates" not in json.dumps(doc)


def test_a_refused_update_is_a_clear_error_and_changes_nothing(deployed, svc_aws, svc_settings):
    bad = svc_settings.model_copy(update={"default_key_alias": "not-an-alias"})
    with pytest.raises(AwsError, match="DefaultKeyAlias") as info:
        deploy_service_stack(svc_aws, bad)
    assert info.value.code == "SERVICE_STACK_REFUSED"
    assert deploy_service_stack(svc_aws, svc_settings).action == "unchanged"


def _tenant(svc_settings: Settings, service: str) -> Any:
    import boto3

    from localaws import TENANT_ACCOUNT

    return boto3.client(service, endpoint_url=svc_settings.aws_endpoint_url, region_name=REGION,
                        aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local")


def test_a_tenant_stack_with_a_role_name_outside_the_pattern_is_refused(svc_settings):
    from byok import cfn

    body = cfn.render_template(cfn.CURRENT_TEMPLATE_VERSION, svc_settings.service_role_arn,
                               svc_settings.callback_topic_arn)
    with pytest.raises(ClientError) as caught:
        _tenant(svc_settings, "cloudformation").create_stack(
            StackName="byok", TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[{"ParameterKey": "RoleName", "ParameterValue": "MyKmsRole"},
                        {"ParameterKey": "ExternalId", "ParameterValue": "external-id-1"},
                        {"ParameterKey": "VaultToken", "ParameterValue": "t" * 36}])
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "RoleName" in str(caught.value)


def test_the_service_role_assumes_only_tenant_roles_named_by_the_pattern(deployed, svc_aws,
                                                                         svc_settings):
    iam = _tenant(svc_settings, "iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": deployed.service_role_arn},
        "Action": "sts:AssumeRole"}]})
    arns = {name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            for name in ("ByokVaultKMSRole", "MyKmsRole")}
    creds = svc_aws.base("sts").assume_role(RoleArn=deployed.service_role_arn,
                                            RoleSessionName="svc")["Credentials"]
    import boto3

    sts = boto3.client("sts", endpoint_url=svc_settings.aws_endpoint_url, region_name=REGION,
                       aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    sts.assume_role(RoleArn=arns["ByokVaultKMSRole"], RoleSessionName="ok")
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=arns["MyKmsRole"], RoleSessionName="no")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert "sts:AssumeRole" in str(caught.value)
