"""Our security rules on the rendered connection template (byok-connection.yaml): cfn-lint
clean, a read-only role for exactly what the sources call, trust only for the service role
with the ExternalId, a role name the service may assume, and the same custom resource."""

import fnmatch
import subprocess
from typing import Any

import pytest

from byok import cfn, connection_template
from byok.enablement import new_token
from byok.settings import load_settings
from tests.cfn.test_cfn_lint import CFN_LINT
from tests.cfn.test_cfn_template_v2 import SERVICE_ROLE, TOPIC, resolve

# What activities/sources.py calls, as IAM actions: s3 HeadBucket and ListObjectsV2
# (s3:ListBucket), GetObject; dynamodb DescribeTable, Scan; ebs ListSnapshotBlocks,
# GetSnapshotBlock.
SOURCE_ACTIONS = {"s3:ListBucket", "s3:GetObject", "dynamodb:DescribeTable", "dynamodb:Scan",
                  "ebs:ListSnapshotBlocks", "ebs:GetSnapshotBlock"}
ENV = {"AWS::Partition": "aws", "AWS::AccountId": "777788889999", "AWS::Region": "us-east-1",
       "S3Buckets": "*", "S3Prefix": "", "DynamoDbTables": "*"}


def rendered() -> str:
    settings = load_settings(service_account_id="444455556666", control_plane_region="eu-west-1")
    assert settings.service_role_arn == SERVICE_ROLE and settings.callback_topic_arn == TOPIC
    return connection_template.rendered(settings)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return cfn.parse_template(rendered())


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    [policy] = doc["Resources"]["Role"]["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def actions(stmt: dict[str, Any]) -> list[str]:
    return stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]


def test_rendered_template_is_cfn_lint_clean(tmp_path):
    path = tmp_path / "byok-connection.yaml"
    path.write_text(rendered())
    proc = subprocess.run([str(CFN_LINT), "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_only_a_role_and_the_notify_resource(doc):
    assert {n: r["Type"] for n, r in doc["Resources"].items()} == {
        "Role": "AWS::IAM::Role", "Notify": "Custom::ByokVaultNotify"}
    assert "ManagedPolicyArns" not in doc["Resources"]["Role"]["Properties"]


def test_trust_is_exactly_the_service_role_with_the_external_id(doc):
    [stmt] = doc["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert stmt["Effect"] == "Allow" and stmt["Action"] == "sts:AssumeRole"
    assert resolve(stmt["Principal"], doc, {}) == {"AWS": SERVICE_ROLE}
    assert stmt["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


def test_the_role_is_read_only_for_exactly_the_source_calls(doc):
    stmts = statements(doc)
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
               for s in stmts)
    granted = [a for s in stmts for a in actions(s)]
    assert sorted(granted) == sorted(SOURCE_ACTIONS)
    assert not any("*" in a for a in granted)


def test_resources_are_scoped_to_the_parameters(doc):
    by_sid = {s["Sid"]: resolve(s["Resource"], doc, ENV) for s in statements(doc)}
    assert by_sid == {
        "ListTheBuckets": "arn:aws:s3:::*", "ReadTheObjects": "arn:aws:s3:::*/*",
        "ReadTheTables": "arn:aws:dynamodb:*:777788889999:table/*",
        "ReadTheSnapshots": "arn:aws:ec2:*::snapshot/*"}
    narrow = {**ENV, "S3Buckets": "acme-data", "S3Prefix": "mail/", "DynamoDbTables": "orders"}
    by_sid = {s["Sid"]: resolve(s["Resource"], doc, narrow) for s in statements(doc)}
    assert by_sid["ReadTheObjects"] == "arn:aws:s3:::acme-data/mail/*"
    assert by_sid["ReadTheTables"] == "arn:aws:dynamodb:*:777788889999:table/orders"


def test_role_name_is_one_the_service_may_assume(doc):
    param = doc["Parameters"]["RoleName"]
    assert param["AllowedPattern"] == connection_template.ROLE_NAME_PATTERN.pattern
    assert "Default" not in param  # issued per tenant, never shared
    assert doc["Resources"]["Role"]["Properties"]["RoleName"] == {"Ref": "RoleName"}
    pattern = load_settings().tenant_role_name_pattern
    for tenant in ("tn-0123456789abcdef", "tn-" + "f" * 40):
        name = connection_template.role_name_for(tenant)
        assert fnmatch.fnmatchcase(name, pattern) and len(name) <= 64
        assert connection_template.ROLE_NAME_PATTERN.fullmatch(name)
    assert connection_template.role_name_for("tn-a") != connection_template.role_name_for("tn-b")


def test_token_and_external_id_rules_are_the_tenant_templates(doc):
    v2 = cfn.template_parameters(cfn.CURRENT_TEMPLATE_VERSION)
    for name in ("ExternalId", "VaultToken"):
        assert doc["Parameters"][name] == v2[name]
    assert doc["Parameters"]["VaultToken"]["NoEcho"] is True
    assert cfn.TOKEN_PATTERN.fullmatch(new_token())


def test_notify_is_the_same_custom_resource_marked_as_a_connection(doc):
    notify = doc["Resources"]["Notify"]["Properties"]
    assert resolve(notify["ServiceToken"], doc, {}) == TOPIC
    assert notify["kind"] == connection_template.KIND
    assert notify["token"] == {"Ref": "VaultToken"}
    assert notify["account_native_id"] == {"Ref": "AWS::AccountId"}
    assert notify["role_arn"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert notify["role_external_id"] == {"Ref": "ExternalId"}
    assert doc["Metadata"]["ByokVault"] == {"TemplateVersion": 1, "Kind": "connection"}


def test_service_values_are_rendered_in(doc):
    assert doc["Mappings"]["Service"] == {"Role": {"Arn": SERVICE_ROLE}, "Topic": {"Arn": TOPIC}}
    assert cfn.PLACEHOLDER_ROLE_ARN not in rendered()
