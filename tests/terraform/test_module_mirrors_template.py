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


def test_role_trust_and_permissions_match_the_template(module: dict[str, Any],
                                                       template: dict[str, Any]) -> None:
    docs = blocks(module, "data", "aws_iam_policy_document")
    role = template["Resources"]["Role"]["Properties"]
    assert tf_statements(docs["trust"]) == cfn_statements(role["AssumeRolePolicyDocument"])
    (policy,) = role["Policies"]
    assert tf_statements(docs["key_access"]) == cfn_statements(policy["PolicyDocument"])
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
