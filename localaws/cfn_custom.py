"""CloudFormation custom resources whose ServiceToken is an SNS topic, run as AWS runs them:
the request goes to the topic and the resource waits for a response PUT to its ResponseURL."""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.moto_api._internal import mock_random
from moto.sns.models import sns_backends

from . import authz, cfn_requests, sns_delivery
from .accounts import Caller
from .cfn_requests import Request
from .operations import Request as AuthzRequest

# Base URL of this server, set when it starts: the ResponseURL a responder may PUT to.
server_url = "http://127.0.0.1:4566"


class SnsCustomResource(CustomModel):
    """In progress until its request is answered; each request (Create/Update/Delete) goes to
    the topic."""

    def __init__(
        self,
        region_name: str,
        logical_id: str,
        resource_name: str,
        stack_id: str,
        resource_type: str,
        properties: dict[str, Any],
        account_id: str,
    ):
        super().__init__(region_name, str(mock_random.uuid4()), logical_id, resource_name)
        self.stack_id, self.resource_type, self.properties = stack_id, resource_type, properties
        self.account_id = account_id
        self.physical_id = ""
        self.deleted = False  # its Delete was answered SUCCESS: moto may drop it

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id or self.resource_name

    def send(self, request_type: str, old: dict[str, Any] | None = None,
             rollback: bool = False) -> Request:
        token = str(self.properties["ServiceToken"])
        request = cfn_requests.new_request(self, request_type, server_url, old, rollback)
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": request.response_url,
            "StackId": self.stack_id,
            "RequestId": request.request_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": self.properties,
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = self.physical_resource_id
        if old is not None:
            event["OldResourceProperties"] = old
        problem = _publish(token, self.region_name, self.account_id, json.dumps(event))
        if problem:
            # CloudFormation could not deliver the request: the resource fails at once.
            request.immediate_failure = problem
        return request

    def delete(self, account_id: str, region_name: str) -> None:
        # A stack's deletion waits for the Delete's answer (_delete_stack); a failed
        # create's rollback sends it without waiting (docs/LOCALAWS.md).
        if not self.deleted:
            self.send("Delete")


def publish_denied(token: str, region: str, stack_account: str, policy: Any) -> str:
    """Why the topic policy refuses CloudFormation's publish, or ''. CloudFormation acts with
    the credentials of the stack operation (docs/LOCALAWS.md): here the stack account's
    principal, without aws:SourceArn or aws:SourceAccount, so a topic of another account
    needs a topic policy that lets that account publish."""
    if not sns_delivery.enforced:
        return ""
    caller = Caller(stack_account, f"arn:aws:iam::{stack_account}:root")
    req = AuthzRequest(service="sns", operation="Publish", params={}, region=region,
                       account=stack_account)
    check = authz.Check("sns:Publish", token, token.split(":")[4], resource_policy=policy)
    reason = authz.decide(caller, req, check)
    if reason is None:
        return ""
    return (f"Failed to publish to {token}: User: {caller.arn} is not authorized to perform: "
            f"SNS:Publish on resource: {token} {reason} (Service: Sns, Status Code: 403, "
            "Error Code: AuthorizationError)")


def _publish(token: str, stack_region: str, stack_account: str, message: str) -> str:
    """Publish to the ServiceToken topic; the reason the request cannot be sent, or ''."""
    parts = token.split(":", 5)
    if len(parts) != 6:
        return f"Invalid service token {token}"
    region, account = parts[3], parts[4]
    if region != stack_region:
        # AWS only invokes a ServiceToken in the stack's own region.
        return (f"Invalid service token {token}: a custom resource's SNS topic must be in "
                f"the stack's region ({stack_region})")
    topic = sns_backends[account][region].topics.get(token)
    if topic is None:
        return f"Failed to publish to {token}: the topic does not exist"
    denied = publish_denied(token, region, stack_account, topic.policy)
    if denied:
        return denied
    # Delivered in the background, as AWS does: an HTTP subscriber may call us back.
    threading.Thread(
        target=topic.publish,
        args=(message,),
        kwargs={"subject": "AWS CloudFormation custom resource request"},
        daemon=True,
    ).start()
    return ""


def _create(original: Any) -> Any:
    def create(
        cls: type,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CustomModel:
        props = cloudformation_json["Properties"]
        if not str(props.get("ServiceToken", "")).startswith("arn:aws:sns:"):
            return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        resource = SnsCustomResource(  # type: ignore[abstract]
            region_name,
            kwargs["LogicalId"],
            resource_name,
            kwargs["StackId"],
            kwargs["ResourceType"],
            props,
            account_id,
        )
        resource.send("Create")
        return resource

    return classmethod(create)


def _update(
    cls: type,
    original_resource: CustomModel,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> CustomModel:
    # Stock moto has no update for custom resources and drops them from the stack.
    if isinstance(original_resource, SnsCustomResource):
        old = original_resource.properties
        new = cloudformation_json["Properties"]
        if new.get("ServiceToken") != old.get("ServiceToken"):
            # AWS refuses this update of the resource; nothing is sent.
            cfn_requests.refuse_update(original_resource, "Modifying service token is not "
                                       "allowed.")
            return original_resource
        original_resource.properties = new
        original_resource.send("Update", old)
    return original_resource


def _create_resources(original: Any) -> Any:
    def create_resources(self: Stack) -> None:
        original(self)
        # A request that could not even be published fails its resource now.
        cfn_requests.settle_immediate(self)

    return create_resources


def _stack_update(original: Any) -> Any:
    def update(self: Stack, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # moto marks the update complete at once; a pending request keeps it in progress.
        cfn_requests.after_update(self)

    return update


def _custom_resources(stack: Stack) -> list[SnsCustomResource]:
    parsed = stack.resource_map._parsed_resources.values()
    return [r for r in parsed if isinstance(r, SnsCustomResource) and not r.deleted]


def _delete_stack(original: Any) -> Any:
    def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
        stacks = [s for s in self.stacks.values()
                  if name_or_stack_id in (s.stack_id, s.name)]
        customs = _custom_resources(stacks[0]) if stacks else []
        if not customs:
            original(self, name_or_stack_id)
            return
        stack = stacks[0]
        if stack.status == "DELETE_IN_PROGRESS":
            return  # already waiting for the answers
        # As on AWS, the stack stays DELETE_IN_PROGRESS until each custom resource's Delete
        # is answered; the rest of the stack goes once all are answered SUCCESS.
        cfn_requests.begin_delete(stack)
        for resource in customs:
            request = resource.send("Delete")
            if request.immediate_failure:
                cfn_requests.fail_now(request, stack)
                return

    return delete_stack


def _stack_delete(original: Any) -> Any:
    def delete(self: Stack) -> None:
        if self.status != "DELETE_IN_PROGRESS":
            original(self)
            return
        # Its custom resources answered: the remaining resources go now.
        self.resource_map.delete()
        self._add_stack_event("DELETE_COMPLETE")
        self.status = "DELETE_COMPLETE"

    return delete


def apply() -> None:
    original = CustomModel.create_from_cloudformation_json
    CustomModel.create_from_cloudformation_json = _create(original)  # type: ignore[method-assign]
    CustomModel.update_from_cloudformation_json = classmethod(_update)  # type: ignore[assignment]
    Stack.create_resources = _create_resources(Stack.create_resources)  # type: ignore[method-assign]
    Stack.update = _stack_update(Stack.update)  # type: ignore[method-assign]
    Stack.delete = _stack_delete(Stack.delete)  # type: ignore[method-assign]
    delete_stack = _delete_stack(CloudFormationBackend.delete_stack)
    CloudFormationBackend.delete_stack = delete_stack  # type: ignore[method-assign]
