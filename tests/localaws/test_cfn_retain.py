"""CloudFormation: a Retain resource that an update removes from the template is kept."""

from __future__ import annotations

from localaws import TENANT_ACCOUNT

from .conftest import Target

KEEP = """
Resources:
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    Properties:
      Description: kept
Outputs:
  KeyId:
    Value: !Ref Key
"""
DROP = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


def test_update_that_removes_a_retained_key_keeps_it_usable(local: Target) -> None:
    target = local
    cfn = target.client("cloudformation", TENANT_ACCOUNT)
    cfn.create_stack(StackName="retain", TemplateBody=KEEP)
    outputs = cfn.describe_stacks(StackName="retain")["Stacks"][0]["Outputs"]
    key_id = outputs[0]["OutputValue"]
    cfn.update_stack(StackName="retain", TemplateBody=DROP)
    kms = target.client("kms", TENANT_ACCOUNT)
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    # localaws schedules deletion of a stack's removed key as AWS does, unless it is Retain.
    assert state == "Enabled"
