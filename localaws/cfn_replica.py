"""AWS::KMS::ReplicaKey in CloudFormation (stock moto has no such resource type and skips
it with a warning): a stack in region R makes a replica in R of the primary it names, as
ReplicateKey would, with the template's key policy; it starts Creating, as on AWS."""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.core.common_models import CloudFormationModel
from moto.kms.models import Key, kms_backends


class ReplicaKey(CloudFormationModel):
    """Only the CloudFormation face; the resource itself is moto's (replica) Key."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::KMS::ReplicaKey"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Key:
        props = cloudformation_json["Properties"]
        arn = str(props.get("PrimaryKeyArn", ""))
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
            raise ValidationError(message=f"PrimaryKeyArn {arn!r} is not a KMS key ARN")
        primary_region, primary_account = parts[3], parts[4]
        if primary_account != account_id:
            raise ValidationError(message="PrimaryKeyArn must be a key of this account")
        policy = props.get("KeyPolicy")
        key: Key = kms_backends[account_id][primary_region].replicate_key(  # type: ignore[call-arg]
            parts[5].removeprefix("key/"), region_name,
            policy if policy is None or isinstance(policy, str) else json.dumps(policy))
        key.description = props.get("Description", "")
        key.pending_window_in_days = int(props.get("PendingWindowInDays", 30))  # type: ignore[attr-defined]
        if str(props.get("Enabled", True)).lower() == "false":
            raise ValidationError(message="localaws: a ReplicaKey created Disabled is not "
                                  "modelled")
        return key


def apply() -> None:
    # moto builds its type map from CloudFormationModel's subclasses once: rebuild it.
    parsing.get_model_map.cache_clear()
