"""CloudFormation: AWS::KMS::ReplicaKey makes a replica of the named primary in the stack's
region (stock moto skips the type), and a self-managed StackSet of it makes one per region."""

from __future__ import annotations

import json

from byok import cfn as byok_cfn
from localaws import TENANT_ACCOUNT

from .conftest import Target, error_code, real


def _primary(target: Target) -> dict[str, str]:
    kms = target.client("kms", TENANT_ACCOUNT)
    meta = kms.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    return {"id": meta["KeyId"], "arn": meta["Arn"]}


def _params(arn: str) -> list[dict[str, str]]:
    return [{"ParameterKey": "PrimaryKeyArn", "ParameterValue": arn}]


def test_a_replica_key_resource_makes_a_replica_of_the_primary(target: Target) -> None:
    primary = _primary(target)
    cf = target.client("cloudformation", TENANT_ACCOUNT, region="eu-west-1")
    refused = error_code(cf.create_stack, StackName="replica",
                         TemplateBody=byok_cfn.replicas_template_text(),
                         Parameters=_params(primary["arn"]))
    kms = target.client("kms", TENANT_ACCOUNT, region="eu-west-1")
    found = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    # Stock moto fails on the unknown type, or skips it and makes no replica.
    real(target, refused is None and primary["id"] in found, True)
    if not target.fixed:
        return
    meta = kms.describe_key(KeyId=primary["id"])["KeyMetadata"]
    config = meta["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "REPLICA"
    assert config["PrimaryKey"]["Arn"] == primary["arn"]
    assert meta["Arn"] == primary["arn"].replace("us-east-1", "eu-west-1")
    assert meta["KeyState"] in ("Creating", "Enabled")
    assert meta["Description"] == "byok-vault backup encryption key (replica)"
    policy = json.loads(kms.get_key_policy(KeyId=primary["id"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{TENANT_ACCOUNT}:root"}
    outputs = cf.describe_stacks(StackName="replica")["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o["OutputValue"] for o in outputs}["ReplicaKeyArn"] == meta["Arn"]


def test_a_replica_of_another_accounts_key_is_refused(local: Target) -> None:
    primary = _primary(local)
    cf = local.client("cloudformation", "777788889999", region="eu-west-1")
    # AWS fails the resource (the stack rolls back); localaws refuses the CreateStack itself.
    assert error_code(cf.create_stack, StackName="replica",
                      TemplateBody=byok_cfn.replicas_template_text(),
                      Parameters=_params(primary["arn"])) == "ValidationError"
    assert local.client("kms", "777788889999", region="eu-west-1").list_keys()["Keys"] == []


def test_a_stackset_makes_one_replica_per_region(local: Target) -> None:
    primary = _primary(local)
    cf = local.client("cloudformation", TENANT_ACCOUNT)
    cf.create_stack_set(StackSetName="replicas", PermissionModel="SELF_MANAGED",
                        TemplateBody=byok_cfn.replicas_template_text(),
                        Parameters=_params(primary["arn"]))
    op = cf.create_stack_instances(StackSetName="replicas", Accounts=[TENANT_ACCOUNT],
                                   Regions=["eu-west-1", "us-west-2"])["OperationId"]
    status = cf.describe_stack_set_operation(StackSetName="replicas", OperationId=op)
    assert status["StackSetOperation"]["Status"] == "SUCCEEDED"
    for region in ("eu-west-1", "us-west-2"):
        meta = local.client("kms", TENANT_ACCOUNT, region=region).describe_key(
            KeyId=primary["id"])["KeyMetadata"]
        assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
        assert meta["Arn"].split(":")[3] == region
