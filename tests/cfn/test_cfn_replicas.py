"""Our security rules on the StackSet template of tenant-managed replicas
(byok-v2-replicas.yaml), one test per rule, and cfn-lint on it."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from byok import cfn

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
ROOT = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return cfn.parse_template(cfn.replicas_template_text())


def test_only_one_replica_key(doc):
    assert {n: r["Type"] for n, r in doc["Resources"].items()} == {
        "ReplicaKey": "AWS::KMS::ReplicaKey"}


def test_the_replica_survives_stack_deletion_and_replacement(doc):
    res = doc["Resources"]["ReplicaKey"]
    assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == "Retain"
    assert res["Properties"]["PendingWindowInDays"] == 30
    assert res["Properties"]["Enabled"] is True


def test_key_policy_is_exactly_the_primarys(doc):
    # The primary's key policy (byok-v2.yaml) and the replica's: only this account's root,
    # so the role's own policy decides; no wildcard principal, no other statement.
    primary = cfn.load_template(2)["Resources"]["MultiRegionKey"]["Properties"]["KeyPolicy"]
    ours = doc["Resources"]["ReplicaKey"]["Properties"]["KeyPolicy"]
    assert ours == primary
    (stmt,) = ours["Statement"]
    assert stmt["Principal"] == {"AWS": ROOT} and stmt["Effect"] == "Allow"


def test_replicates_only_the_given_primary(doc):
    params = doc["Parameters"]
    assert list(params) == ["PrimaryKeyArn"]
    pattern = params["PrimaryKeyArn"]["AllowedPattern"]
    import re
    good = "arn:aws:kms:us-east-1:777788889999:key/mrk-" + "0123456789abcdef" * 2
    assert re.fullmatch(pattern, good)
    for bad in ("mrk-" + "0" * 32, good.replace("mrk-", ""), "alias/x", good + "x", ""):
        assert not re.fullmatch(pattern, bad), bad
    assert doc["Resources"]["ReplicaKey"]["Properties"]["PrimaryKeyArn"] == {
        "Ref": "PrimaryKeyArn"}
    assert doc["Outputs"]["ReplicaKeyArn"]["Value"] == {"Fn::GetAtt": ["ReplicaKey", "Arn"]}


def test_version_is_stated(doc):
    assert doc["Metadata"]["ByokVault"]["TemplateVersion"] == cfn.CURRENT_TEMPLATE_VERSION
    assert "template version 2" in doc["Description"]
    assert "cfn-lint" not in doc.get("Metadata", {})


def test_replicas_template_is_cfn_lint_clean(tmp_path):
    path = tmp_path / cfn.REPLICAS_TEMPLATE
    path.write_text(cfn.replicas_template_text())
    proc = subprocess.run([str(CFN_LINT), "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
