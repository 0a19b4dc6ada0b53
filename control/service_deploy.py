"""Create or update the service's own stack in the control-plane region and wait for it."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from byok import service_stack
from byok.aws import AwsClients, error_code
from byok.errors import AwsError
from byok.service_stack import ServiceStackOutputs
from byok.settings import Settings

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]


def describe(cf: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when there is none by that name."""
    try:
        return dict(cf.describe_stacks(StackName=name)["Stacks"][0])
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise


def deploy_service_stack(aws: AwsClients, settings: Settings, *,
                         timeout: float = 1800.0) -> ServiceStackOutputs:
    """Idempotent: creates the stack, updates it when the template or a setting changed, and
    does nothing ("unchanged") otherwise. Raises AwsError with CloudFormation's reasons."""
    cf = aws.base("cloudformation")
    name = settings.service_stack_name
    params = [{"ParameterKey": k, "ParameterValue": v}
              for k, v in service_stack.parameters(settings).items()]
    kwargs = {"StackName": name, "TemplateBody": service_stack.template_text(),
              "Parameters": params, "Capabilities": CAPABILITIES,
              "Tags": [{"Key": "byok-vault", "Value": "service"}]}
    stack = describe(cf, name)
    if stack and stack["StackStatus"].endswith("_IN_PROGRESS"):
        stack = _wait(cf, name, timeout)
    if stack and stack["StackStatus"] in service_stack.DEAD:
        raise AwsError(f"stack {name} is {stack['StackStatus']}: delete it (aws cloudformation "
                       f"delete-stack --stack-name {name}) and deploy again; reasons: "
                       f"{_reasons(cf, name)}", code="SERVICE_STACK_FAILED")
    if stack is not None and not drift(cf, stack, settings):
        return ServiceStackOutputs.from_stack(stack, "unchanged")
    try:
        if stack is None:
            cf.create_stack(**kwargs, OnFailure="ROLLBACK")
            action = "created"
        else:
            cf.update_stack(**kwargs)
            action = "updated"
    except ClientError as exc:
        if "No updates are to be performed" not in str(exc):
            raise AwsError(f"CloudFormation refused the service stack: {exc}",
                           code="SERVICE_STACK_REFUSED") from None
        action = "unchanged"
    final = _wait(cf, name, timeout)
    if final["StackStatus"] not in service_stack.DONE:
        raise AwsError(f"stack {name} ended {final['StackStatus']}: {_reasons(cf, name)}",
                       code="SERVICE_STACK_FAILED")
    return ServiceStackOutputs.from_stack(final, action)


def drift(cf: Any, stack: dict[str, Any], settings: Settings) -> list[str]:
    """How the deployed stack differs from what this code and these settings would deploy."""
    found = []
    deployed = cf.get_template(StackName=stack["StackName"])["TemplateBody"]
    if not isinstance(deployed, str) or deployed != service_stack.template_text():
        found.append("the template differs from this version's service.yaml")
    given = {p["ParameterKey"]: str(p.get("ParameterValue", ""))
             for p in stack.get("Parameters", [])}
    for key, want in service_stack.parameters(settings).items():
        if given.get(key, "") != want:
            found.append(f"parameter {key} is {given.get(key, '')!r}, settings say {want!r}")
    return found


def _wait(cf: Any, name: str, timeout: float) -> dict[str, Any]:
    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        stack = describe(cf, name)
        if stack is None:
            raise AwsError(f"stack {name} disappeared while deploying", code="SERVICE_STACK_GONE")
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise AwsError(f"stack {name} still {stack['StackStatus']} after {timeout:.0f}s",
                           code="SERVICE_STACK_TIMEOUT")
        time.sleep(delay)
        delay = min(delay * 2, 10.0)


def _reasons(cf: Any, name: str) -> str:
    """CloudFormation's own words for what failed, newest first."""
    events = cf.describe_stack_events(StackName=name).get("StackEvents", [])
    failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
              if e.get("ResourceStatus", "").endswith("FAILED")]
    return "; ".join(failed[:5]) or "no failure reason reported"
