"""The legacy template (version 1) as deployed in the field: its differences from version 2 are
pinned so that any change to it is noticed."""

from typing import Any

import pytest

from byok import cfn

SERVICE_ROLE = "arn:aws:iam::444455556666:role/ByokVaultService"
TOPIC = "arn:aws:sns:eu-west-1:444455556666:byok-vault-stack-callbacks"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return cfn.parse_template(cfn.render_template(1, SERVICE_ROLE, TOPIC))


def test_three_parameters_and_no_key_choice(doc):
    assert list(doc["Parameters"]) == ["RoleName", "ExternalId", "VaultToken"]
    assert doc["Parameters"]["VaultToken"]["NoEcho"] is True
    assert doc["Parameters"]["ExternalId"]["AllowedPattern"] == cfn.EXTERNAL_ID_PATTERN.pattern
    assert "Conditions" not in doc


def test_single_region_key_with_rotation(doc):
    key = doc["Resources"]["Key"]
    assert key["Type"] == "AWS::KMS::Key" and "Condition" not in key
    assert key["Properties"]["MultiRegion"] is False
    assert key["Properties"]["EnableKeyRotation"] is True
    # An upgrade to version 2 removes this resource; old backups need the key kept.
    assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"


def test_key_policy_is_account_root_only(doc):
    stmts = doc["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]
    assert all(s["Principal"] == {"AWS": {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}} for s in stmts)


def test_trust_is_the_service_role_with_external_id(doc):
    [stmt] = doc["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert stmt["Principal"] == {"AWS": {"Fn::FindInMap": ["Service", "Role", "Arn"]}}
    assert doc["Mappings"]["Service"]["Role"]["Arn"] == SERVICE_ROLE
    assert stmt["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


def test_broader_legacy_policy_kms_star_on_its_own_key(doc):
    [policy] = doc["Resources"]["Role"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "kms:*", "Resource": {"Fn::GetAtt": ["Key", "Arn"]}}]


def test_callback_reports_version_1(doc):
    notify = doc["Resources"]["Notify"]
    assert notify["Type"] == "Custom::ByokVaultNotify"
    props = notify["Properties"]
    assert props["ServiceToken"] == {"Fn::FindInMap": ["Service", "Topic", "Arn"]}
    assert doc["Mappings"]["Service"]["Topic"]["Arn"] == TOPIC
    assert props["template_version"] == "1"
    assert props["multi_region_cmk_key_id"] == {"Ref": "Key"}
    assert props["created_multi_region_cmk"] == "false"
    # replica_management came with version 2's tenant-managed replicas; absent means "service".
    v2 = set(cfn.load_template(2)["Resources"]["Notify"]["Properties"])
    assert set(props) == v2 - {"replica_management"}


def test_outputs_and_version(doc):
    assert set(doc["Outputs"]) == {"RoleArn", "KeyArn", "TemplateVersion"}
    assert doc["Outputs"]["TemplateVersion"]["Value"] == "1"
    assert doc["Metadata"]["ByokVault"]["TemplateVersion"] == cfn.LEGACY_TEMPLATE_VERSION == 1
    assert "template version 1" in doc["Description"]


def test_versions_share_the_logical_ids_an_upgrade_updates_in_place():
    v1, v2 = cfn.load_template(1), cfn.load_template(2)
    # Role and Notify keep their ids, so an update changes them rather than replacing them;
    # the key's id differs on purpose (the v1 key is retained, v2 makes a multi-Region one).
    assert {"Role", "Notify"} <= set(v1["Resources"]) & set(v2["Resources"])
    assert "Key" in v1["Resources"] and "Key" not in v2["Resources"]
    assert v1["Parameters"]["RoleName"] == v2["Parameters"]["RoleName"]
    assert v1["Parameters"]["ExternalId"] == v2["Parameters"]["ExternalId"]
    assert v1["Parameters"]["VaultToken"] == v2["Parameters"]["VaultToken"]
