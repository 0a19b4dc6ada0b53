"""The service's own stack (service.yaml): cfn-lint clean, and our security rules on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from byok import service_stack
from byok.settings import Settings

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
WILDCARD_OK = {("CallbackTopicPolicy", "TenantStacksPublish"),
               ("TemplateBucketPolicy", "AnyoneReadsPublishedTemplates")}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return service_stack.load_template()


def statements(res: dict[str, Any]) -> list[dict[str, Any]]:
    props = res["Properties"]
    if "PolicyDocument" in props:
        return list(props["PolicyDocument"]["Statement"])
    out = []
    for policy in props.get("Policies", []):
        for stmt in policy["PolicyDocument"]["Statement"]:
            # Fn::If [cond, statement, NoValue]: the statement as the condition holds.
            out.append(stmt["Fn::If"][1] if "Fn::If" in stmt else stmt)
    return out


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def test_cfn_lint_finds_nothing(tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text(service_stack.template_text())
    proc = subprocess.run([str(CFN_LINT), "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    assert "cfn-lint" not in service_stack.load_template().get("Metadata", {})


def test_cfn_lint_reports_a_broken_service_template(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(service_stack.template_text().replace("Status: Enabled", "Status: Maybe"))
    proc = subprocess.run([str(CFN_LINT), "--", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "E3030" in proc.stdout


def test_the_resources_are_the_expected_ones(doc):
    assert {n: r["Type"] for n, r in doc["Resources"].items()} == {
        "CallbackTopic": "AWS::SNS::Topic", "CallbackTopicPolicy": "AWS::SNS::TopicPolicy",
        "CallbackDeadLetterQueue": "AWS::SQS::Queue", "CallbackQueue": "AWS::SQS::Queue",
        "CallbackQueuePolicy": "AWS::SQS::QueuePolicy",
        "CallbackSubscription": "AWS::SNS::Subscription",
        "TemplateBucket": "AWS::S3::Bucket", "TemplateBucketPolicy": "AWS::S3::BucketPolicy",
        "VaultBucket": "AWS::S3::Bucket", "VaultBucketPolicy": "AWS::S3::BucketPolicy",
        "ServiceRole": "AWS::IAM::Role"}


def test_no_wildcard_action_anywhere(doc):
    for name, res in doc["Resources"].items():
        if "Policy" not in res["Type"] and res["Type"] != "AWS::IAM::Role":
            continue
        for stmt in statements(res):
            assert "NotAction" not in stmt and "NotPrincipal" not in stmt
            for action in as_list(stmt["Action"]):
                # A Deny may be broad (TLS only); an Allow never is.
                assert stmt["Effect"] == "Deny" or "*" not in action, (name, stmt)


def test_wildcard_principals_only_where_documented(doc):
    for name, res in doc["Resources"].items():
        if not res["Type"].endswith("Policy"):
            continue
        for stmt in statements(res):
            if stmt["Effect"] == "Allow" and stmt["Principal"] in ({"AWS": "*"}, "*"):
                assert (name, stmt["Sid"]) in WILDCARD_OK


def test_topic_policy_allows_publish_and_nothing_else(doc):
    stmts = statements(doc["Resources"]["CallbackTopicPolicy"])
    assert stmts and all(s["Action"] == "sns:Publish" and s["Effect"] == "Allow"
                         and s["Resource"] == {"Ref": "CallbackTopic"} for s in stmts)
    # CloudFormation publishes with the stack operation's credentials, never as a service
    # principal (docs/DEPLOY.md): one statement, for any AWS principal.
    assert [s["Principal"] for s in stmts] == [{"AWS": "*"}]


def test_queue_policy_is_limited_to_the_topic(doc):
    (stmt,) = statements(doc["Resources"]["CallbackQueuePolicy"])
    assert stmt["Principal"] == {"Service": "sns.amazonaws.com"}
    assert stmt["Action"] == "sqs:SendMessage"
    assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "CallbackTopic"}}}


def test_queue_dead_letters_after_max_receives(doc):
    props = doc["Resources"]["CallbackQueue"]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["CallbackDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"}}
    assert props["ReceiveMessageWaitTimeSeconds"] == 20


def test_template_reads_only_under_the_prefix(doc):
    stmts = statements(doc["Resources"]["TemplateBucketPolicy"])
    (read,) = [s for s in stmts if s["Effect"] == "Allow"]
    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == {"Fn::Sub": "${TemplateBucket.Arn}/${TemplatePrefix}*"}
    props = doc["Resources"]["TemplateBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


@pytest.mark.parametrize("bucket", ["VaultBucket", "TemplateBucket"])
def test_buckets_are_tls_only_and_encrypted(doc, bucket):
    stmts = statements(doc["Resources"][f"{bucket}Policy"])
    deny = next(s for s in stmts if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2  # the bucket and its objects
    enc = doc["Resources"][bucket]["Properties"]["BucketEncryption"]
    assert enc["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]


def test_vault_bucket_blocks_all_public_access_and_survives_the_stack(doc):
    res = doc["Resources"]["VaultBucket"]
    assert all(v is True for v in res["Properties"]["PublicAccessBlockConfiguration"].values())
    assert res["DeletionPolicy"] == "Retain" and res["UpdateReplacePolicy"] == "Retain"


def test_service_role_assumes_only_tenant_role_names_never_its_own_account(doc):
    stmts = {s["Sid"]: s for s in statements(doc["Resources"]["ServiceRole"])}
    assumes = [s for s in stmts.values() if "sts:AssumeRole" in as_list(s["Action"])]
    assert {s["Sid"] for s in assumes} == {"AssumeTenantRoles", "NoRolesOfThisAccount"}
    assert stmts["AssumeTenantRoles"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${TenantRoleNamePattern}"}
    assert stmts["NoRolesOfThisAccount"]["Effect"] == "Deny"


def test_service_role_uses_default_keys_only_by_alias(doc):
    stmts = {s["Sid"]: s for s in statements(doc["Resources"]["ServiceRole"])}
    kms = [s for s in stmts.values() if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert [s["Sid"] for s in kms] == ["UseDefaultKeys"]
    assert set(kms[0]["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert kms[0]["Condition"] == {"ForAnyValue:StringEquals": {
        "kms:ResourceAliases": {"Ref": "DefaultKeyAlias"}}}


def test_service_role_trusts_only_its_own_account(doc):
    (trust,) = doc["Resources"]["ServiceRole"]["Properties"][
        "AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}


def test_every_arn_uses_the_partition_pseudo_parameter():
    assert "arn:aws:" not in service_stack.template_text()


def test_parameters_cover_the_template_exactly(doc):
    assert set(service_stack.parameters(Settings())) == set(doc["Parameters"])
