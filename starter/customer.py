"""The tenant's side on the embedded stack: deploy our stack in the tenant's account on
localaws. Its custom resource reports to us the way AWS runs it (SNS, SQS, our consumer), and
the stack completes only when we answered."""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from byok import cfn, connection_template, template_store
from byok.errors import AwsError, InvalidInput
from byok.settings import Settings


def tenant_session(account_id: str) -> boto3.Session:
    """On localaws a 12-digit access key id acts as that account's root."""
    return boto3.Session(aws_access_key_id=account_id, aws_secret_access_key="local")  # noqa: S106 - localaws


def deploy_stack(settings: Settings, *, account_id: str, token: str, external_id: str,
                 existing_key: str = "", role_name: str = cfn.DEFAULT_ROLE_NAME,
                 version: int = cfn.CURRENT_TEMPLATE_VERSION, stack_name: str = "",
                 upgrade: bool = False, template_body: str = "",
                 wait: bool = True, replica_management: str = "service") -> dict[str, Any]:
    """Create (or, with upgrade, update) the stack; with wait, until CloudFormation finished
    it (our answer to its custom resource decides). Returns what the stack reports, as its
    custom resource sends it. template_body: the tenant's own edit of our template."""
    try:
        cfn.validate_role_name(role_name)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="role_name") from None
    region = settings.control_plane_region
    cf = tenant_session(account_id).client("cloudformation", region_name=region,
                                           endpoint_url=settings.aws_endpoint_url or None)
    # As the tenant does: our published S3 URL (quick-create link), or their own edit.
    source = {"TemplateBody": template_body} if template_body else \
        {"TemplateURL": template_store.url(settings, version)}
    params = {"RoleName": role_name, "ExternalId": external_id, "VaultToken": token}
    if version >= cfn.CURRENT_TEMPLATE_VERSION:
        params["UserMultiRegionCMKKeyId"] = existing_key
        params["ReplicaManagement"] = replica_management
    # An upgrade updates the tenant's existing byok-vault stack, whatever it was named.
    name = stack_name or (_existing_stack(cf) if upgrade else "") or f"byok-vault-{account_id}"
    kwargs = {"StackName": name, **source, "Capabilities": ["CAPABILITY_NAMED_IAM"],
              "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]}
    try:
        (cf.update_stack if upgrade else cf.create_stack)(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise InvalidInput(f"CloudFormation refused the stack: {err.get('Message')}",
                           code="STACK_REJECTED") from None
    stack = _wait(cf, name) if wait else cf.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    key_arn = outputs.get("KeyArn", "")
    role_arn = outputs.get("RoleArn", "")
    role_id = _role_id(account_id, role_name, settings)
    reported = {"replica_management": replica_management} \
        if version >= cfn.CURRENT_TEMPLATE_VERSION else {}
    return {
        **reported,
        "request_type": "Update" if upgrade else "Create", "token": token,
        "account_native_id": account_id, "aws_region": region, "role_arn": role_arn,
        "role_external_id": external_id, "role_id": role_id,
        # What the stack's custom resource reports (the callback and the poll must agree):
        # the created key's id, or the tenant's parameter as given.
        "multi_region_cmk_key_id": existing_key or key_arn.rsplit("/", 1)[-1],
        "created_multi_region_cmk": "true" if version >= 2 and not existing_key else "false",
        "template_version": str(version),
    }


def deploy_connection_stack(settings: Settings, *, account_id: str, token: str,
                            external_id: str, role_name: str, stack_name: str = "",
                            template_body: str = "", wait: bool = True,
                            parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Deploy the connection stack (byok-connection.yaml) in the tenant's account, from the
    published URL (or the tenant's own edit); with wait, until our answer completed it."""
    cf = tenant_session(account_id).client("cloudformation",
                                           region_name=settings.control_plane_region,
                                           endpoint_url=settings.aws_endpoint_url or None)
    source = {"TemplateBody": template_body} if template_body else \
        {"TemplateURL": connection_template.url(settings)}
    params = {"RoleName": role_name, "ExternalId": external_id, "VaultToken": token,
              **(parameters or {})}
    name = stack_name or f"byok-vault-connect-{account_id}"
    try:
        cf.create_stack(StackName=name, **source, Capabilities=["CAPABILITY_NAMED_IAM"],
                        Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                    for k, v in params.items()])
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise InvalidInput(f"CloudFormation refused the stack: {err.get('Message')}",
                           code="STACK_REJECTED") from None
    stack = _wait(cf, name) if wait else cf.describe_stacks(StackName=name)["Stacks"][0]
    return {"stack_name": name, "status": stack["StackStatus"]}


def deploy_replicas(settings: Settings, *, account_id: str, key_arn: str,
                    regions: list[str], stack_set: str = "byok-vault-replicas") -> list[str]:
    """Tenant-managed replicas as the tenant makes them: a self-managed StackSet of
    byok-v2-replicas.yaml (our published URL) in the key's region, one stack instance per
    region. Returns the replica ARNs the instances' stacks report."""
    home = key_arn.split(":")[3]
    session = tenant_session(account_id)
    endpoint = settings.aws_endpoint_url or None
    cf = session.client("cloudformation", region_name=home, endpoint_url=endpoint)
    try:
        cf.describe_stack_set(StackSetName=stack_set)
    except ClientError:
        cf.create_stack_set(StackSetName=stack_set,
                            TemplateURL=template_store.replicas_url(settings),
                            PermissionModel="SELF_MANAGED",
                            Parameters=[{"ParameterKey": "PrimaryKeyArn",
                                         "ParameterValue": key_arn}])
    op = cf.create_stack_instances(StackSetName=stack_set, Accounts=[account_id],
                                   Regions=regions)["OperationId"]
    status = cf.describe_stack_set_operation(StackSetName=stack_set, OperationId=op)
    if status["StackSetOperation"]["Status"] != "SUCCEEDED":
        raise AwsError(f"StackSet {stack_set}: {status['StackSetOperation']['Status']}",
                       code="STACK_FAILED")
    arns = []
    for region in regions:
        regional = session.client("cloudformation", region_name=region, endpoint_url=endpoint)
        for stack in regional.describe_stacks()["Stacks"]:
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            if stack_set in stack["StackName"] and "ReplicaKeyArn" in outputs:
                arns.append(outputs["ReplicaKeyArn"])
    return arns


def _existing_stack(cf: Any) -> str:
    for page in cf.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            if stack["StackName"].startswith(cfn.STACK_NAME_PREFIX) and \
                    not stack["StackStatus"].startswith("DELETE"):
                return str(stack["StackName"])
    return ""


def _wait(cf: Any, name: str) -> dict[str, Any]:
    for _ in range(240):
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return stack
        if status.endswith("FAILED") or "ROLLBACK" in status:
            if status.endswith("_IN_PROGRESS"):
                time.sleep(0.2)
                continue
            raise AwsError(f"stack {name} ended {status}: {failure_reason(cf, name)}",
                           code="STACK_FAILED")
        time.sleep(0.5)
    raise AwsError(f"stack {name} did not finish in 120 s", code="STACK_TIMEOUT")


def failure_reason(cf: Any, name: str) -> str:
    """The reason of the stack's first failed resource (what the console shows the tenant)."""
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"].endswith("_FAILED")]
    return str(failed[-1].get("ResourceStatusReason", "")) if failed else ""


def _role_id(account_id: str, role_name: str, settings: Settings) -> str:
    iam = tenant_session(account_id).client("iam", endpoint_url=settings.aws_endpoint_url or None,
                                            region_name="us-east-1")
    try:
        return str(iam.get_role(RoleName=role_name)["Role"]["RoleId"])
    except ClientError:
        return ""
