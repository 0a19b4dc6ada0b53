"""CloudFormation custom resources whose ServiceToken is an SNS topic (moto only knows Lambda)."""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.cloudformation.custom_model import CustomModel
from moto.moto_api._internal import mock_random
from moto.sns.models import sns_backends

# Base URL of this server, set when it starts: the ResponseURL a responder may PUT to.
server_url = "http://127.0.0.1:4566"


class SnsCustomResource(CustomModel):
    """Created at once with a physical id; each request (Create/Update/Delete) goes to the topic."""

    def __init__(
        self,
        region_name: str,
        logical_id: str,
        resource_name: str,
        stack_id: str,
        resource_type: str,
        properties: dict[str, Any],
    ):
        super().__init__(region_name, str(mock_random.uuid4()), logical_id, resource_name)
        self.stack_id, self.resource_type, self.properties = stack_id, resource_type, properties
        self._finished = True

    def send(self, request_type: str, old: dict[str, Any] | None = None) -> None:
        token = self.properties["ServiceToken"]
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": f"{server_url}/cloudformation_{self.region_name}/cfnresponse"
            f"?stack={self.stack_id}",
            "StackId": self.stack_id,
            "RequestId": str(mock_random.uuid4()),
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": self.properties,
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = self.physical_resource_id
        if old is not None:
            event["OldResourceProperties"] = old
        _, _, _, region, account, _ = token.split(":", 5)
        topic = sns_backends[account][region].topics.get(token)
        if topic is not None:
            # Delivered in the background, as AWS does: an HTTP subscriber may call us back.
            threading.Thread(
                target=topic.publish,
                args=(json.dumps(event),),
                kwargs={"subject": "AWS CloudFormation custom resource request"},
                daemon=True,
            ).start()

    def delete(self, account_id: str, region_name: str) -> None:
        self.send("Delete")


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
        original_resource.properties = cloudformation_json["Properties"]
        original_resource.send("Update", old)
    return original_resource


def apply() -> None:
    original = CustomModel.create_from_cloudformation_json
    CustomModel.create_from_cloudformation_json = _create(original)  # type: ignore[method-assign]
    CustomModel.update_from_cloudformation_json = classmethod(_update)  # type: ignore[assignment]
