"""CloudFormation resource types moto lacks for the service's stack: topic, queue and bucket
policies, SNS subscriptions, and the bucket properties moto's AWS::S3::Bucket ignores."""

from __future__ import annotations

import json
import re
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.iam.models import IAMBackend
from moto.s3.models import FakeBucket, s3_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.utilities.utils import get_partition

from . import conditions, policy


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _queue_of(url: str) -> tuple[str, str]:
    """(account, name) of a queue from its URL (what Ref returns), whatever the host."""
    account, name = url.rstrip("/").split("/")[-2:]
    return account, name


class _Policy:
    """A policy resource: applied to its targets on create and update, removed on delete.

    A mixin: moto finds resource types among CloudFormationModel's direct subclasses."""

    def __init__(self, targets: list[str], document: str, account_id: str, region_name: str):
        self.targets, self.document = targets, document
        self.account_id, self.region_name = account_id, region_name

    @property
    def physical_resource_id(self) -> str:
        return f"{self.cloudformation_type()}:{','.join(self.targets)}"

    @staticmethod
    def cloudformation_type() -> str:
        raise NotImplementedError

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def is_created(self) -> bool:
        return True

    @classmethod
    def _targets(cls, props: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def apply(self, document: str | None) -> None:
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
        **kwargs: Any,
    ) -> _Policy:
        props = cloudformation_json["Properties"]
        policy = cls(cls._targets(props), _document(props["PolicyDocument"]), account_id,
                     region_name)
        policy.apply(policy.document)
        return policy

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: _Policy, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> _Policy:
        # AWS replaces the whole policy: targets dropped from the list lose it.
        original_resource.apply(None)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.apply(None)


class TopicPolicy(_Policy, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def _targets(cls, props: dict[str, Any]) -> list[str]:
        return [str(t) for t in props["Topics"]]

    def apply(self, document: str | None) -> None:
        for arn in self.targets:
            region, account = arn.split(":")[3:5]
            topic = sns_backends[account][region].get_topic(arn)
            if document is None:
                # The topic gets back the policy SNS gives a new topic.
                topic._policy_json = topic._create_default_topic_policy(
                    region, account, topic.name)
            else:
                topic.policy = document


class QueuePolicy(_Policy, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def _targets(cls, props: dict[str, Any]) -> list[str]:
        return [str(q) for q in props["Queues"]]

    def apply(self, document: str | None) -> None:
        for url in self.targets:
            account, name = _queue_of(url)
            sqs_backends[account][self.region_name].get_queue(name).policy = document or ""


class BucketPolicy(_Policy, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def _targets(cls, props: dict[str, Any]) -> list[str]:
        return [str(props["Bucket"])]

    def apply(self, document: str | None) -> None:
        backend = s3_backends[self.account_id][get_partition(self.region_name)]
        for name in self.targets:
            if document is None:
                backend.delete_bucket_policy(name)
            else:
                backend.put_bucket_policy(name, document.encode())


class Subscription(CloudFormationModel):
    """AWS::SNS::Subscription: the subscription itself, with its attributes."""

    def __init__(self, arn: str, topic_arn: str):
        self.arn, self.topic_arn = arn, topic_arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Subscription:
        props = cloudformation_json["Properties"]
        topic_arn = str(props["TopicArn"])
        backend = sns_backends[account_id][topic_arn.split(":")[3]]
        sub = backend.subscribe(topic_arn, str(props["Endpoint"]), str(props["Protocol"]))
        # moto delivers raw for any value of RawMessageDelivery, "false" included.
        if str(props.get("RawMessageDelivery", "false")).lower() == "true":
            backend.set_subscription_attributes(sub.arn, "RawMessageDelivery", "true")
        for name in ("FilterPolicy", "RedrivePolicy"):
            if name in props:
                backend.set_subscription_attributes(sub.arn, name, _document(props[name]))
        return cls(sub.arn, topic_arn)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Subscription, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> Subscription:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][self.topic_arn.split(":")[3]].unsubscribe(self.arn)


def _bucket_properties(bucket: FakeBucket, props: dict[str, Any], account_id: str,
                       region_name: str) -> None:
    """What moto's AWS::S3::Bucket ignores: versioning, public access block, ownership."""
    backend = s3_backends[account_id][get_partition(region_name)]
    versioning = props.get("VersioningConfiguration")
    if versioning:
        backend.put_bucket_versioning(bucket.name, versioning["Status"])
    block = props.get("PublicAccessBlockConfiguration")
    if block:
        backend.put_public_access_block(bucket.name, {k: str(v).lower() == "true"
                                                      for k, v in block.items()})
    rules = (props.get("OwnershipControls") or {}).get("Rules") or []
    if rules:
        backend.put_bucket_ownership_controls(bucket.name, rules[0]["ObjectOwnership"])


def _create_bucket(original: Any) -> Any:
    def create(cls: type, resource_name: str, cloudformation_json: Any, account_id: str,
               region_name: str, **kwargs: Any) -> FakeBucket:
        bucket: FakeBucket = original.__func__(cls, resource_name, cloudformation_json,
                                               account_id, region_name, **kwargs)
        _bucket_properties(bucket, cloudformation_json.get("Properties", {}), account_id,
                           region_name)
        return bucket

    return classmethod(create)


def _update_bucket(original: Any) -> Any:
    def update(cls: type, original_resource: FakeBucket, new_resource_name: str,
               cloudformation_json: Any, account_id: str, region_name: str) -> FakeBucket:
        bucket: FakeBucket = original.__func__(cls, original_resource, new_resource_name,
                                               cloudformation_json, account_id, region_name)
        _bucket_properties(bucket, cloudformation_json.get("Properties", {}), account_id,
                           region_name)
        return bucket

    return classmethod(update)


# localaws stands in for AWS's HTTPS endpoints; clients reach it over plain HTTP only because
# it is local, so a TLS-only bucket policy must not lock them out.
def _bucket_context(key: str) -> list[str] | None:
    # Requests reach localaws over loopback HTTP; they stand for AWS's TLS endpoints.
    return ["true"] if key.lower() == "aws:securetransport" else None


def _bucket_permission(self: FakeBucket, action: str, resource: str) -> Any:
    """moto ignores a bucket policy's conditions, so a conditional Deny (TLS only) denies
    everything; keep only the statements whose conditions hold, as AWS does."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    doc = json.loads(self.policy.decode())
    doc["Statement"] = [s for s in policy.as_list(doc.get("Statement"))
                        if "Condition" not in s
                        or conditions.hold(s["Condition"], _bucket_context)]
    return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)


def _get_role_policy(original: Any) -> Any:
    def get_role_policy(self: IAMBackend, role_name: str, policy_name: str) -> tuple[str, str]:
        # A role from CloudFormation holds its inline policies as dicts, which moto's response
        # prints as a Python repr; AWS returns JSON (that boto3 decodes).
        name, document = original(self, role_name, policy_name)
        return name, _document(document)

    return get_role_policy


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


def _references(template: Any) -> list[str]:
    """Parameters a resource uses, by Ref and inside Fn::Sub strings (moto sees only Ref, so a
    changed parameter used in a Sub never updated its resource)."""
    found: list[str] = []
    if isinstance(template, dict):
        for key, value in template.items():
            if key == "Ref":
                found.append(value)
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found += _SUB_NAME.findall(text)
                if not isinstance(value, str):
                    found += _references(value[1])
            else:
                found += _references(value)
    elif isinstance(template, list):
        for item in template:
            found += _references(item)
    return found


def _drop_no_value(original: Any) -> Any:
    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        # An Fn::If that picks AWS::NoValue removes a list item on AWS; moto left a None there
        # (a policy statement list with a null in it).
        cleaned = original(resource_json, resources_map)
        return [v for v in cleaned if v is not None] if isinstance(cleaned, list) else cleaned

    return clean_json


def apply() -> None:
    parsing.get_references_from_template = _references
    parsing.clean_json = _drop_no_value(parsing.clean_json)
    IAMBackend.get_role_policy = _get_role_policy(  # type: ignore[method-assign]
        IAMBackend.get_role_policy)
    FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign]
    FakeBucket.create_from_cloudformation_json = _create_bucket(  # type: ignore[method-assign]
        FakeBucket.create_from_cloudformation_json)
    FakeBucket.update_from_cloudformation_json = _update_bucket(  # type: ignore[method-assign]
        FakeBucket.update_from_cloudformation_json)
    # moto finds resource types among CloudFormationModel's subclasses, cached on first use.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
