"""Our security rules on the rendered current template (version 2), one test per rule."""

import re
from typing import Any

import pytest

from byok import cfn

SERVICE_ROLE = "arn:aws:iam::444455556666:role/ByokVaultService"
TOPIC = "arn:aws:sns:eu-west-1:444455556666:byok-vault-stack-callbacks"
ROOT = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
KEY_ACTIONS = {"kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"}
MRK = "mrk-" + "0123456789abcdef" * 2


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return cfn.parse_template(cfn.render_template(2, SERVICE_ROLE, TOPIC))


def resolve(node: Any, doc: dict[str, Any], env: dict[str, Any]) -> Any:
    """A small evaluator for the intrinsics the template uses, enough to check what the
    expressions produce (env: parameter values, pseudo parameters, resource Refs, conditions)."""
    if isinstance(node, list):
        return [resolve(n, doc, env) for n in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return env[node["Ref"]]
    if "Fn::FindInMap" in node:
        name, top, second = node["Fn::FindInMap"]
        return doc["Mappings"][name][top][second]
    if "Fn::If" in node:
        cond, yes, no = node["Fn::If"]
        return resolve(yes if env[cond] else no, doc, env)
    if "Fn::Split" in node:
        sep, value = node["Fn::Split"]
        return resolve(value, doc, env).split(sep)
    if "Fn::Select" in node:
        index, values = node["Fn::Select"]
        return resolve(values, doc, env)[index]
    if "Fn::Sub" in node:
        arg = node["Fn::Sub"]
        text, local = (arg, {}) if isinstance(arg, str) else arg
        scope = {**env, **{k: resolve(v, doc, env) for k, v in local.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(scope[m.group(1)]), text)
    if "Fn::GetAtt" in node:
        return env[".".join(node["Fn::GetAtt"])]
    return {k: resolve(v, doc, env) for k, v in node.items()}


def env_for(key_param: str) -> dict[str, Any]:
    return {"UserMultiRegionCMKKeyId": key_param, "CreateKey": key_param == "",
            "MultiRegionKey": "mrk-created00000000000000000000000",
            "MultiRegionKey.Arn": "arn:aws:kms:us-east-1:777788889999:key/mrk-created",
            "AWS::Partition": "aws", "AWS::AccountId": "777788889999",
            "AWS::Region": "us-east-1"}


def principals(node: Any):
    """Every Principal value anywhere in the template."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("Principal", "NotPrincipal"):
                yield v
            else:
                yield from principals(v)
    elif isinstance(node, list):
        for v in node:
            yield from principals(v)


def role_statements(doc: dict[str, Any], replicas: str = "service") -> list[dict[str, Any]]:
    """Every permission statement that can reach the role: inline and attached policies,
    for ReplicaManagement = `replicas` (a statement under Fn::If is resolved)."""
    stmts = []
    for policy in doc["Resources"]["Role"]["Properties"].get("Policies", []):
        stmts += policy["PolicyDocument"]["Statement"]
    for res in doc["Resources"].values():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy",
                           "AWS::IAM::ManagedPolicy"):
            stmts += res["Properties"]["PolicyDocument"]["Statement"]
    picked = []
    for s in stmts:
        if "Fn::If" in s:  # keep the branch for this choice, unresolved inside
            cond, yes, no = s["Fn::If"]
            assert cond == "ServiceReplicates"
            s = yes if replicas == "service" else no
        if s != {"Ref": "AWS::NoValue"}:
            picked.append(s)
    return picked


def actions(stmt: dict[str, Any]) -> list[str]:
    value = stmt["Action"]
    return [value] if isinstance(value, str) else value


def test_only_the_expected_resources(doc):
    types = {name: res["Type"] for name, res in doc["Resources"].items()}
    assert types == {"MultiRegionKey": "AWS::KMS::Key", "Role": "AWS::IAM::Role",
                     "Notify": "Custom::ByokVaultNotify"}


def test_key_rotation_is_on(doc):
    assert doc["Resources"]["MultiRegionKey"]["Properties"]["EnableKeyRotation"] is True


def test_key_is_multi_region(doc):
    assert doc["Resources"]["MultiRegionKey"]["Properties"]["MultiRegion"] is True


def test_key_is_created_only_without_a_given_key(doc):
    assert doc["Resources"]["MultiRegionKey"]["Condition"] == "CreateKey"
    assert doc["Conditions"]["CreateKey"] == {
        "Fn::Equals": [{"Ref": "UserMultiRegionCMKKeyId"}, ""]}


def test_key_survives_stack_deletion_and_replacement(doc):
    key = doc["Resources"]["MultiRegionKey"]
    assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"


def test_key_policy_principal_is_only_the_account_root(doc):
    stmts = doc["Resources"]["MultiRegionKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert stmts and all(s["Principal"] == {"AWS": ROOT} for s in stmts)


def test_no_wildcard_principal_anywhere(doc):
    found = list(principals(doc))
    assert found
    for p in found:
        assert p != "*"
        for value in p.values():
            values = value if isinstance(value, list) else [value]
            assert "*" not in values


def test_trust_policy_is_exactly_the_service_role_with_external_id(doc):
    trust = doc["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    stmt = trust[0]
    assert stmt["Effect"] == "Allow" and stmt["Action"] == "sts:AssumeRole"
    principal = resolve(stmt["Principal"], doc, {})
    assert principal == {"AWS": SERVICE_ROLE}
    assert not principal["AWS"].endswith(":root")
    assert stmt["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


LEGACY_ACTIONS = ["kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"]


def test_role_actions_are_exactly_the_allowed_list(doc):
    stmts = role_statements(doc)
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
               for s in stmts)
    granted = [a for s in stmts for a in actions(s)]
    assert sorted(granted) == sorted([*KEY_ACTIONS, "kms:ReplicateKey", "kms:CreateKey",
                                      *LEGACY_ACTIONS])
    assert not any(a.endswith(":*") or a == "*" for a in granted)
    assert all(a.startswith("kms:") for a in granted)
    assert "ManagedPolicyArns" not in doc["Resources"]["Role"]["Properties"]


def test_key_actions_are_scoped_to_the_key_in_any_region(doc):
    [stmt] = [s for s in role_statements(doc) if s.get("Sid") == "UseTheKey"]
    assert set(actions(stmt)) == KEY_ACTIONS
    assert "Condition" not in stmt
    for param in ("", MRK, f"arn:aws:kms:us-east-1:777788889999:key/{MRK}"):
        env = env_for(param)
        key_id = MRK if param else env["MultiRegionKey"]
        assert resolve(stmt["Resource"], doc, env) == (
            f"arn:aws:kms:*:777788889999:key/{key_id}")


def test_replication_only_of_the_key_and_only_into_served_regions(doc):
    from byok.regions import AWS_REGIONS

    [stmt] = [s for s in role_statements(doc) if s.get("Sid") == "ReplicateTheKey"]
    assert actions(stmt) == ["kms:ReplicateKey"]
    assert set(stmt["Condition"]["StringEquals"]["kms:ReplicaRegion"]) == AWS_REGIONS
    assert resolve(stmt["Resource"], doc, env_for(MRK)) == (
        f"arn:aws:kms:us-east-1:777788889999:key/{MRK}")


def test_legacy_keys_only_by_tag_and_only_to_open_them(doc):
    [stmt] = [s for s in role_statements(doc) if s.get("Sid") == "OpenLegacyBackups"]
    assert sorted(actions(stmt)) == sorted(LEGACY_ACTIONS)
    assert stmt["Condition"] == {"StringEquals": {"aws:ResourceTag/byok-vault": "v1"}}
    # Only keys of this account and region (where the version 1 key lives).
    assert resolve(stmt["Resource"], doc, env_for("")) == (
        "arn:aws:kms:us-east-1:777788889999:key/*")


def test_create_key_only_for_replicas(doc):
    [stmt] = [s for s in role_statements(doc) if "kms:CreateKey" in actions(s)]
    assert actions(stmt) == ["kms:CreateKey"]
    assert stmt["Resource"] == "*"
    assert stmt["Condition"] == {"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}}


def test_tenant_managed_replicas_leave_the_role_without_replicate_or_create(doc):
    stmts = role_statements(doc, "tenant")
    granted = sorted(a for s in stmts for a in actions(s))
    assert granted == sorted([*KEY_ACTIONS, *LEGACY_ACTIONS])
    assert {s.get("Sid") for s in stmts} == {"UseTheKey", "OpenLegacyBackups"}
    # Every Fn::If among the statements is on this one choice and drops the whole statement.
    raw = doc["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    guarded = [s["Fn::If"] for s in raw if "Fn::If" in s]
    assert len(guarded) == 2
    assert all(c == "ServiceReplicates" and no == {"Ref": "AWS::NoValue"}
               for c, _, no in guarded)
    assert doc["Conditions"]["ServiceReplicates"] == {
        "Fn::Equals": [{"Ref": "ReplicaManagement"}, "service"]}


def test_replica_management_parameter(doc):
    param = doc["Parameters"]["ReplicaManagement"]
    assert param["Default"] == "service"
    assert param["AllowedValues"] == list(cfn.REPLICA_MANAGEMENT) == ["service", "tenant"]
    assert doc["Resources"]["Notify"]["Properties"]["replica_management"] == {
        "Ref": "ReplicaManagement"}


def test_the_four_parameters_keep_their_rules(doc):
    params = doc["Parameters"]
    assert list(params) == ["RoleName", "ExternalId", "VaultToken", "UserMultiRegionCMKKeyId",
                            "ReplicaManagement"]
    assert all(p["Type"] == "String" for p in params.values())
    assert params["RoleName"]["Default"] == cfn.DEFAULT_ROLE_NAME == "ByokVaultKMSRole"
    assert params["RoleName"]["AllowedPattern"] == cfn.ROLE_NAME_PATTERN.pattern
    assert (params["RoleName"]["MinLength"], params["RoleName"]["MaxLength"]) == (1, 64)
    assert params["ExternalId"]["AllowedPattern"] == "^[A-Za-z0-9+=,.@:/-]*$"
    assert (params["ExternalId"]["MinLength"], params["ExternalId"]["MaxLength"]) == (8, 128)
    assert "Default" not in params["ExternalId"] and "Default" not in params["VaultToken"]
    assert params["VaultToken"]["AllowedPattern"] == "^[A-Za-z0-9-]{36}$"
    assert (params["VaultToken"]["MinLength"], params["VaultToken"]["MaxLength"]) == (36, 36)
    assert params["UserMultiRegionCMKKeyId"]["Default"] == ""
    assert (params["UserMultiRegionCMKKeyId"]["AllowedPattern"]
            == cfn.KEY_ID_PARAM_PATTERN.pattern)


def test_vault_token_is_no_echo(doc):
    assert doc["Parameters"]["VaultToken"]["NoEcho"] is True


def test_outputs_present(doc):
    assert set(doc["Outputs"]) == {"RoleArn", "KeyArn", "TemplateVersion"}
    assert doc["Outputs"]["TemplateVersion"]["Value"] == "2"
    assert doc["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": ["Role", "Arn"]}
    env = env_for(f"arn:aws:kms:us-east-1:777788889999:key/{MRK}")
    assert resolve(doc["Outputs"]["KeyArn"]["Value"], doc, env) == (
        f"arn:aws:kms:us-east-1:777788889999:key/{MRK}")
    assert resolve(doc["Outputs"]["KeyArn"]["Value"], doc, env_for("")) == (
        "arn:aws:kms:us-east-1:777788889999:key/mrk-created")


def test_version_is_stated(doc):
    assert doc["Metadata"]["ByokVault"]["TemplateVersion"] == 2 == cfn.CURRENT_TEMPLATE_VERSION
    assert "template version 2" in doc["Description"]


def test_callback_carries_the_design_fields(doc):
    notify = doc["Resources"]["Notify"]["Properties"]
    assert resolve(notify["ServiceToken"], doc, {}) == TOPIC
    assert set(notify) - {"ServiceToken"} == {
        "token", "account_native_id", "aws_region", "role_arn", "role_external_id", "role_id",
        "multi_region_cmk_key_id", "created_multi_region_cmk", "template_version",
        "replica_management"}
    assert notify["token"] == {"Ref": "VaultToken"}
    assert notify["account_native_id"] == {"Ref": "AWS::AccountId"}
    assert notify["aws_region"] == {"Ref": "AWS::Region"}
    assert notify["role_arn"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert notify["role_external_id"] == {"Ref": "ExternalId"}
    assert notify["role_id"] == {"Fn::GetAtt": ["Role", "RoleId"]}
    assert notify["template_version"] == "2"
    for param, key_id, created in (("", "mrk-created00000000000000000000000", "true"),
                                   (MRK, MRK, "false"),
                                   # An ARN is reported as given: its account and region
                                   # are what the service checks.
                                   (f"arn:aws:kms:us-east-1:777788889999:key/{MRK}",
                                    f"arn:aws:kms:us-east-1:777788889999:key/{MRK}", "false")):
        env = env_for(param)
        assert resolve(notify["multi_region_cmk_key_id"], doc, env) == key_id
        assert resolve(notify["created_multi_region_cmk"], doc, env) == created


def test_service_values_are_rendered_in(doc):
    assert doc["Mappings"]["Service"] == {"Role": {"Arn": SERVICE_ROLE},
                                          "Topic": {"Arn": TOPIC}}
    text = cfn.render_template(2, SERVICE_ROLE, TOPIC)
    assert cfn.PLACEHOLDER_ROLE_ARN not in text and cfn.PLACEHOLDER_TOPIC_ARN not in text
