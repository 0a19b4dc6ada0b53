"""The Terraform module is checked statically (no Terraform binary can be installed here):
it parses, its inputs validate exactly as the template's parameters do, and its policy
documents grant exactly what byok-v2.yaml grants — a drift between the two fails CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from byok import cfn
from tests.terraform.policy_forms import (
    MODULE,
    blocks,
    cfn_statements,
    load_module,
    tf_statements,
    unquote,
    validation,
)

PARAMETERS = {"role_name": "RoleName", "external_id": "ExternalId",
              "vault_token": "VaultToken", "existing_key_id": "UserMultiRegionCMKKeyId"}
REPLICA_MODULE = MODULE / "modules" / "replica"


@pytest.fixture(scope="module")
def module() -> dict[str, Any]:
    return load_module()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn.load_template(cfn.CURRENT_TEMPLATE_VERSION)


def test_every_file_parses_and_declares_its_versions(module: dict[str, Any]) -> None:
    assert {p.name for p in MODULE.glob("*.tf")} >= {"main.tf", "variables.tf", "outputs.tf",
                                                     "versions.tf"}
    tf = module["terraform"][0]
    assert unquote(tf["required_version"]) == ">= 1.5.0"
    aws = tf["required_providers"][0]["aws"]
    assert unquote(aws["source"]) == "hashicorp/aws" and unquote(aws["version"]) == ">= 5.0"


@pytest.mark.parametrize("variable, parameter", PARAMETERS.items())
def test_inputs_validate_like_the_template_parameters(module: dict[str, Any],
                                                      template: dict[str, Any],
                                                      variable: str, parameter: str) -> None:
    var = blocks(module, "variable")[variable]
    param = template["Parameters"][parameter]
    pattern, lo, hi = validation(var, variable)
    assert pattern == param["AllowedPattern"]
    assert lo == param.get("MinLength") and hi == param.get("MaxLength")
    if "Default" in param:
        assert unquote(var["default"]) == param["Default"]
    else:
        assert "default" not in var  # required on both sides
    assert bool(var.get("sensitive")) == bool(param.get("NoEcho"))


def test_a_value_the_template_refuses_is_refused_by_the_module_too(
        module: dict[str, Any], template: dict[str, Any]) -> None:
    # The patterns are compared above; this shows they also act alike on real values.
    samples = ["ByokVaultKMSRole", "bad name", "a" * 8, "x/y:z@w", "mrk-" + "0" * 32,
               "mrk-XYZ", "", "arn:aws:kms:us-east-1:444455556666:key/mrk-" + "a" * 32]
    for variable, parameter in PARAMETERS.items():
        pattern, lo, hi = validation(blocks(module, "variable")[variable], variable)
        param = template["Parameters"][parameter]
        for s in samples:
            tf_ok = (bool(re.fullmatch(pattern or ".*", s)) and len(s) >= (lo or 0)
                     and len(s) <= (hi or 10**6))
            cfn_ok = (bool(re.fullmatch(param["AllowedPattern"], s))
                      and param.get("MinLength", 0) <= len(s) <= param.get("MaxLength", 10**6))
            assert tf_ok == cfn_ok, (variable, s)


@pytest.mark.parametrize("replicas", ["service", "tenant"])
def test_role_trust_and_permissions_match_the_template(module: dict[str, Any],
                                                       template: dict[str, Any],
                                                       replicas: str) -> None:
    docs = blocks(module, "data", "aws_iam_policy_document")
    role = template["Resources"]["Role"]["Properties"]
    assert tf_statements(docs["trust"]) == cfn_statements(role["AssumeRolePolicyDocument"])
    (policy,) = role["Policies"]
    ours = tf_statements(docs["key_access"], replicas)
    assert ours == cfn_statements(policy["PolicyDocument"], replicas)
    granted = {a for st in ours for a in st[2]}
    # The tenant variant: the service can neither replicate nor create keys.
    assert ({"kms:ReplicateKey", "kms:CreateKey"} <= granted) is (replicas == "service")
    assert not {"kms:ReplicateKey", "kms:CreateKey"} & granted or replicas == "service"
    roles = blocks(module, "resource", "aws_iam_role")
    assert roles["byok"]["max_session_duration"] == role["MaxSessionDuration"]
    inline = blocks(module, "resource", "aws_iam_role_policy")["key_access"]
    assert unquote(inline["name"]) == policy["PolicyName"]


def test_key_matches_the_template_and_cannot_be_destroyed(module: dict[str, Any],
                                                          template: dict[str, Any]) -> None:
    key = template["Resources"]["MultiRegionKey"]
    props = key["Properties"]
    docs = blocks(module, "data", "aws_iam_policy_document")
    assert tf_statements(docs["key"]) == cfn_statements(props["KeyPolicy"])
    tf_key = blocks(module, "resource", "aws_kms_key")["multi_region"]
    assert tf_key["multi_region"] is props["MultiRegion"] is True
    assert tf_key["enable_key_rotation"] is props["EnableKeyRotation"] is True
    assert tf_key["deletion_window_in_days"] == props["PendingWindowInDays"]
    assert unquote(tf_key["customer_master_key_spec"]) == props["KeySpec"]
    assert unquote(tf_key["key_usage"]) == props["KeyUsage"]
    # DeletionPolicy: Retain on the template side; prevent_destroy on the module side.
    assert key["DeletionPolicy"] == "Retain"
    assert tf_key["lifecycle"][0]["prevent_destroy"] is True


def test_an_existing_key_is_checked_to_be_a_primary_of_this_account_and_region(
        module: dict[str, Any]) -> None:
    existing = blocks(module, "data", "aws_kms_key")["existing"]
    conditions = " ".join(p["condition"] for p in existing["lifecycle"][0]["postcondition"])
    assert 'multi_region_key_type == "PRIMARY"' in conditions.replace('\\"', '"')
    assert "account_id" in conditions and "aws_region" in conditions


def test_completion_reports_what_the_template_reports(module: dict[str, Any],
                                                      template: dict[str, Any]) -> None:
    notify = cfn.parse_template((MODULE / "notify.yaml").read_text())
    ours = set(notify["Resources"]["Notify"]["Properties"]) - {"deployed_with"}
    assert ours == set(template["Resources"]["Notify"]["Properties"])
    stack = blocks(module, "resource", "aws_cloudformation_stack")["notify"]
    declared = set(notify["Parameters"])
    assert set(stack["parameters"]) == declared
    assert notify["Parameters"]["VaultToken"]["NoEcho"] is True
    # The callback must not race the role's permissions.
    assert "${aws_iam_role_policy.key_access}" in stack["depends_on"]


def test_completion_template_is_cfn_lint_clean() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    proc = subprocess.run([str(cfn_lint), "--include-checks", "I", "--",
                           str(MODULE / "notify.yaml")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_replica_choice_is_the_templates_parameter(module: dict[str, Any],
                                                  template: dict[str, Any]) -> None:
    var = blocks(module, "variable")["replica_management"]
    param = template["Parameters"]["ReplicaManagement"]
    assert unquote(var["default"]) == param["Default"] == "service"
    (check,) = var["validation"]
    allowed = re.search(r"contains\(\[(.*?)\], var\.replica_management\)",
                        check["condition"].replace('\\"', '"'))
    assert allowed and [unquote(v.strip()) for v in allowed.group(1).split(",")] \
        == param["AllowedValues"] == list(cfn.REPLICA_MANAGEMENT)
    stack = blocks(module, "resource", "aws_cloudformation_stack")["notify"]
    assert stack["parameters"]["ReplicaManagement"] == "${var.replica_management}"
    notify = cfn.parse_template((MODULE / "notify.yaml").read_text())
    assert notify["Parameters"]["ReplicaManagement"]["AllowedValues"] == param["AllowedValues"]


@pytest.fixture(scope="module")
def replica_module() -> dict[str, Any]:
    return load_module(REPLICA_MODULE)


@pytest.fixture(scope="module")
def replicas_template() -> dict[str, Any]:
    return cfn.parse_template(cfn.replicas_template_text())


def test_replica_module_matches_the_stackset_template(replica_module: dict[str, Any],
                                                      replicas_template: dict[str, Any]) -> None:
    res = replicas_template["Resources"]["ReplicaKey"]
    props = res["Properties"]
    docs = blocks(replica_module, "data", "aws_iam_policy_document")
    assert tf_statements(docs["replica"]) == cfn_statements(props["KeyPolicy"])
    key = blocks(replica_module, "resource", "aws_kms_replica_key")["replica"]
    assert key["primary_key_arn"] == "${var.primary_key_arn}"
    assert props["PrimaryKeyArn"] == {"Ref": "PrimaryKeyArn"}
    assert key["enabled"] is props["Enabled"] is True
    assert key["deletion_window_in_days"] == props["PendingWindowInDays"]
    assert unquote(key["description"]) == props["Description"]
    assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == "Retain"
    assert key["lifecycle"][0]["prevent_destroy"] is True
    pattern, _, hi = validation(blocks(replica_module, "variable")["primary_key_arn"],
                                "primary_key_arn")
    param = replicas_template["Parameters"]["PrimaryKeyArn"]
    assert (pattern, hi) == (param["AllowedPattern"], param["MaxLength"])
    tf = replica_module["terraform"][0]
    assert unquote(tf["required_providers"][0]["aws"]["version"]) == ">= 5.0"


def test_the_replica_key_policy_is_the_primarys(module: dict[str, Any],
                                                replica_module: dict[str, Any]) -> None:
    # A replica's own key policy decides whether the role's grant reaches it.
    primary = blocks(module, "data", "aws_iam_policy_document")["key"]
    replica = blocks(replica_module, "data", "aws_iam_policy_document")["replica"]
    assert tf_statements(primary) == tf_statements(replica)
