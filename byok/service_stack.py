"""The service's own CloudFormation stack (templates/service.yaml): its text, the parameters
settings give it, and its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from byok.cfn import parse_template
from byok.settings import Settings

DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
# A create that failed leaves a stack that can only be deleted.
DEAD = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED")


@cache
def template_text() -> str:
    return resources.files("byok").joinpath("templates", "service.yaml").read_text("utf-8")


def load_template() -> dict[str, Any]:
    return parse_template(template_text())


def parameters(settings: Settings) -> dict[str, str]:
    """Stack parameters from settings: names are settings, never guessed."""
    return {
        "ServiceRoleName": settings.service_role_name,
        "CallbackTopicName": settings.callback_topic_name,
        "CallbackQueueName": settings.callback_queue_name,
        "MaxReceiveCount": str(settings.callback_max_receive_count),
        "VaultBucketName": settings.vault_bucket,
        "TemplateBucketName": settings.template_bucket,
        "TemplatePrefix": settings.template_prefix,
        "TenantRoleNamePattern": settings.tenant_role_name_pattern,
        "DefaultKeyAlias": settings.default_key_alias,
    }


@dataclass(frozen=True)
class ServiceStackOutputs:
    """What the stack made, as CloudFormation reports it (action: created/updated/unchanged)."""

    stack_id: str
    action: str
    callback_topic_arn: str
    callback_queue_url: str
    callback_queue_arn: str
    dead_letter_queue_url: str
    vault_bucket: str
    template_bucket: str
    service_role_arn: str

    @classmethod
    def from_stack(cls, stack: dict[str, Any], action: str) -> ServiceStackOutputs:
        out = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return cls(stack_id=stack["StackId"], action=action,
                   callback_topic_arn=out["CallbackTopicArn"],
                   callback_queue_url=out["CallbackQueueUrl"],
                   callback_queue_arn=out["CallbackQueueArn"],
                   dead_letter_queue_url=out["DeadLetterQueueUrl"],
                   vault_bucket=out["VaultBucketName"],
                   template_bucket=out.get("TemplateBucketName", ""),
                   service_role_arn=out["ServiceRoleArn"])
