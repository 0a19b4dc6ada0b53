"""CloudFormation fixes: KMS keys as AWS builds them, parameter constraints, stack updates."""

from __future__ import annotations

import json
import re
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack
from moto.cloudformation.parsing import ResourceMap
from moto.iam.models import Role
from moto.kms.models import Key, kms_backends

from . import cfn_custom, cfn_replica, cfn_template_url, kms_deletion


def _bool(value: Any, default: bool) -> bool:
    # Values that went through parameters or Fn::If arrive as strings.
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _policy(value: Any) -> str | None:
    # An object KeyPolicy must be stored as JSON text, or describe_key fails on it.
    return value if value is None or isinstance(value, str) else json.dumps(value)


def create_key(
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Key:
    props = cloudformation_json["Properties"]
    tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])]
    key = kms_backends[account_id][region_name].create_key(
        policy=_policy(props.get("KeyPolicy")),
        key_usage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        key_spec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
        description=props.get("Description"),
        tags=tags,
        multi_region=_bool(props.get("MultiRegion"), False),
    )
    _set_mutable(key, props)
    return key


def _set_mutable(key: Key, props: dict[str, Any]) -> None:
    key.key_rotation_status = _bool(props.get("EnableKeyRotation"), False)
    key.enabled = _bool(props.get("Enabled"), True)
    if key.key_state in ("Enabled", "Disabled"):
        key.key_state = "Enabled" if key.enabled else "Disabled"
    key.pending_window_in_days = int(props.get("PendingWindowInDays", 30))  # type: ignore[attr-defined]


def update_key(
    cls: type,
    original_resource: Key,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Key:
    # Stock moto has no update for keys and drops the resource; AWS updates it in place.
    props = cloudformation_json["Properties"]
    if props.get("KeyPolicy") is not None:
        original_resource.policy = _policy(props["KeyPolicy"])  # type: ignore[assignment]
    original_resource.description = props.get("Description", original_resource.description)
    _set_mutable(original_resource, props)
    return original_resource


def delete_key(self: Key, account_id: str, region_name: str) -> None:
    # AWS schedules deletion of a stack's key (PendingWindowInDays, default 30); it never deletes.
    if self.key_state not in kms_deletion.PENDING:
        kms_deletion.schedule(self, getattr(self, "pending_window_in_days", 30))


def _update_role(original: Any) -> Any:
    def update(
        cls: type,
        original_resource: Role,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Role:
        role = original.__func__(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        props = cloudformation_json["Properties"]
        trust = props.get("AssumeRolePolicyDocument")
        if trust is not None:
            role.assume_role_policy_document = (
                trust if isinstance(trust, str) else json.dumps(trust)
            )
        # Stock moto keeps the old inline policies; AWS replaces them with the template's.
        role.policies = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies", [])}
        return role

    return classmethod(update)


def validate_parameters(template: dict[str, Any], given: dict[str, Any]) -> None:
    """CreateStack/UpdateStack reject values outside a parameter's declared constraints."""
    declared = template.get("Parameters") or {}
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise ValidationError(
            message=f"Parameters: [{', '.join(unknown)}] do not exist in the template"
        )
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is None or spec.get("Type", "String") != "String":
            continue
        value = str(value)
        problem = None
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            problem = f"Parameter '{name}' must be one of AllowedValues"
        elif "MinLength" in spec and len(value) < int(spec["MinLength"]):
            problem = f"Parameter '{name}' must contain at least {spec['MinLength']} characters"
        elif "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            problem = f"Parameter '{name}' must contain at most {spec['MaxLength']} characters"
        elif "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problem = f"Parameter '{name}' must match pattern {spec['AllowedPattern']}"
        if problem and spec.get("ConstraintDescription"):
            problem = (
                f"Parameter {name} failed to satisfy constraint: {spec['ConstraintDescription']}"
            )
        if problem:
            raise ValidationError(message=problem)


def _load_parameters(original: Any) -> Any:
    def load_parameters(self: ResourceMap) -> None:
        validate_parameters(self._template, self.input_parameters)
        original(self)

    return load_parameters


def _stack_update(original: Any) -> Any:
    def update(
        self: Stack,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: Any = None,
    ) -> None:
        # Validate before moto starts removing resources of the old template.
        validate_parameters(self.parse_template(template), parameters or {})
        original(self, template, role_arn, parameters=parameters, tags=tags)

    return update


def _delete_resource(original: Any) -> Any:
    def delete(self: ResourceMap, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        # Stock moto honours DeletionPolicy only when the whole stack goes; AWS also keeps a
        # Retain resource that an update removes from the template.
        if resource_json.get("DeletionPolicy") == "Retain":
            return
        original(self, parsed_resource, resource_json)

    return delete


def _created_resources(self: Stack) -> list[Any]:
    # Stock moto lists a resource whose Condition is false as an empty ('', '') summary.
    return [r for r in self.resource_map.values() if r is not None]


def apply() -> None:
    Stack.stack_resources = property(_created_resources)  # type: ignore[assignment,method-assign]
    Key.create_from_cloudformation_json = classmethod(create_key)  # type: ignore[assignment]
    Key.update_from_cloudformation_json = classmethod(update_key)  # type: ignore[assignment]
    Key.delete = delete_key  # type: ignore[method-assign]
    update_role = _update_role(Role.update_from_cloudformation_json)
    Role.update_from_cloudformation_json = update_role  # type: ignore[method-assign]
    ResourceMap.load_parameters = _load_parameters(ResourceMap.load_parameters)  # type: ignore[method-assign]
    Stack.update = _stack_update(Stack.update)  # type: ignore[method-assign]
    ResourceMap._delete_resource = _delete_resource(ResourceMap._delete_resource)  # type: ignore[method-assign]
    cfn_custom.apply()
    cfn_replica.apply()
    cfn_template_url.apply()
