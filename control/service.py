"""Provision the service's own AWS resources (idempotent): the service stack (service.yaml,
deployed through CloudFormation exactly as `byok service deploy` does), the published tenant
templates, and the default KMS key of each region (keys are per region; the stack is not)."""

from __future__ import annotations

from collections.abc import Iterable

from byok.aws import AwsClients
from byok.default_key import ensure_default_key
from byok.service_stack import ServiceStackOutputs
from byok.settings import Settings
from control.service_deploy import deploy_service_stack
from control.templates import publish_templates


def ensure_service_resources(aws: AwsClients, settings: Settings,
                             regions: Iterable[str] = ()) -> ServiceStackOutputs:
    """The role, topic, queues and buckets come from the stack and nowhere else."""
    outputs = deploy_service_stack(aws, settings)
    publish_templates(aws.base("s3"), settings)
    for region in {settings.control_plane_region, *regions}:
        ensure_default_key(aws, settings, region)
    return outputs
