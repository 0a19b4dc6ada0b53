"""The Terraform completion path end to end on strict localaws: the role and key made as
the module makes them (its own policy documents, read from the HCL), then notify.yaml, the
module's one-resource completion stack, with exactly the parameters the module passes. Its
custom resource reaches the service through SNS and SQS, and the enablement reaches Enabled
on the embedded stack while the stack completes on our answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy.engine import Engine

from byok.errors import AwsError
from starter.customer import _wait
from tests.conftest import TENANT_ACCOUNT
from tests.terraform.policy_forms import MODULE, blocks, load_module, render, tf_statements
from tests.workflows.enable_helpers import (
    audit_actions,
    bindings,
    result,
    tenant_client,
    until_delivered,
    wallet,
)


def module_apply(settings: Any, issued: Any, replicas: str) -> dict[str, str]:
    """What `terraform apply` of terraform/byok-vault creates before its completion stack,
    as the tenant's root: the key, the role and its inline policy, from the module's HCL."""
    module = load_module()
    docs = blocks(module, "data", "aws_iam_policy_document")
    values = {"partition": "aws", "account": TENANT_ACCOUNT, "region": "us-east-1",
              "external_id": issued.external_id, "service_role": settings.service_role_arn}
    key_res = blocks(module, "resource", "aws_kms_key")["multi_region"]
    kms = tenant_client(settings, "kms")
    key = kms.create_key(MultiRegion=key_res["multi_region"], KeySpec="SYMMETRIC_DEFAULT",
                         KeyUsage="ENCRYPT_DECRYPT",
                         Policy=json.dumps(render(tf_statements(docs["key"]), values)),
                         Description="byok-vault backup encryption key (multi-Region primary)")
    key_id = key["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id)
    values["key_id"] = key_id
    iam = tenant_client(settings, "iam")
    role_res = blocks(module, "resource", "aws_iam_role")["byok"]
    role = iam.create_role(
        RoleName="ByokVaultKMSRole", MaxSessionDuration=role_res["max_session_duration"],
        AssumeRolePolicyDocument=json.dumps(render(tf_statements(docs["trust"]), values)))
    iam.put_role_policy(RoleName="ByokVaultKMSRole", PolicyName="ByokVaultKeyAccess",
                        PolicyDocument=json.dumps(render(
                            tf_statements(docs["key_access"], replicas), values)))
    # aws_cloudformation_stack.notify's parameters, as main.tf sets them for a created key.
    return {"ServiceToken": settings.callback_topic_arn, "VaultToken": issued.token,
            "RoleArn": role["Role"]["Arn"], "RoleId": role["Role"]["RoleId"],
            "ExternalId": issued.external_id, "MultiRegionCmkKeyId": key_id,
            "CreatedMultiRegionCmk": "true", "ReplicaManagement": replicas}


def deploy_notify(settings: Any, parameters: dict[str, str]) -> dict[str, Any]:
    cf = tenant_client(settings, "cloudformation")
    cf.create_stack(StackName="byok-vault-notify",
                    TemplateBody=(MODULE / "notify.yaml").read_text(),
                    Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                for k, v in parameters.items()])
    return _wait(cf, "byok-vault-notify")


async def test_terraform_completion_stack_reaches_enabled(
        temporal_env: Any, engine: Engine, settings: Any, tenant: str, enable: Any,
        consumer: Any) -> None:
    issued = await enable(tenant)
    params = await asyncio.to_thread(module_apply, settings, issued, "service")
    stack = blocks(load_module(), "resource", "aws_cloudformation_stack")["notify"]
    assert set(params) == set(stack["parameters"])  # every parameter the module passes
    deploying = asyncio.create_task(asyncio.to_thread(deploy_notify, settings, params))
    await until_delivered(engine, issued.token)
    view = await result(temporal_env, issued.workflow_id)
    done = await deploying  # CREATE_COMPLETE only because we answered SUCCESS
    assert done["StackStatus"] == "CREATE_COMPLETE"

    assert view.state == "Enabled", (view.error_code, view.error_message)
    key_arn = f"arn:aws:kms:us-east-1:{TENANT_ACCOUNT}:key/{params['MultiRegionCmkKeyId']}"
    assert view.key_arn == key_arn and view.role_arn == params["RoleArn"]
    assert sorted(view.replica_key_arns) == ["eu-west-1", "us-west-2"]
    (bound,) = bindings(engine, tenant)
    assert bound.key_arn == key_arn and wallet(engine, tenant).replica_management == "service"
    assert audit_actions(engine, tenant)["wallet.enabled"] == 1


async def test_terraform_completion_refused_fails_the_apply(
        temporal_env: Any, engine: Engine, settings: Any, tenant: str, enable: Any,
        consumer: Any) -> None:
    # A key the role cannot use (the module's policy names another key id): the service
    # answers FAILED, so aws_cloudformation_stack.notify, and the apply, fail with why.
    issued = await enable(tenant)
    params = await asyncio.to_thread(module_apply, settings, issued, "service")
    other = tenant_client(settings, "kms").create_key(MultiRegion=True)["KeyMetadata"]
    params["MultiRegionCmkKeyId"] = other["KeyId"]
    deploying = asyncio.create_task(asyncio.to_thread(deploy_notify, settings, params))
    await until_delivered(engine, issued.token)
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Error" and view.error_code, view
    try:
        await deploying
    except AwsError as exc:  # the stack rolled back with our reason, as the apply shows it
        assert exc.code == "STACK_FAILED" and (view.error_message or "")[:60] in exc.message, exc
    else:
        raise AssertionError("the completion stack succeeded although the service refused")
    assert bindings(engine, tenant) == []
