"""CreateStack/UpdateStack with a TemplateURL: an S3 object that exists and that the caller
may read, or the ValidationError AWS returns."""

from __future__ import annotations

import json
from typing import Any

from localaws import SERVICE_ACCOUNT, TENANT_ACCOUNT

from .conftest import Target

BODY = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""
PUBLIC_READ = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::byok-templates/published/*"}]}


def _publish(target: Target, key: str = "published/t.yaml", policy: Any = PUBLIC_READ) -> None:
    s3 = target.client("s3", SERVICE_ACCOUNT)
    s3.create_bucket(Bucket="byok-templates")
    s3.put_object(Bucket="byok-templates", Key=key, Body=BODY.encode())
    if policy is not None:
        s3.put_bucket_policy(Bucket="byok-templates", Policy=json.dumps(policy))


def _refusal(target: Target, url: str, account: str = TENANT_ACCOUNT) -> str | None:
    cfn = target.client("cloudformation", account)
    try:
        cfn.create_stack(StackName="from-url", TemplateURL=url)
    except Exception as error:  # noqa: BLE001 - botocore ClientError carries the message
        return str(error.response["Error"]["Message"])  # type: ignore[attr-defined]
    return None


def _url(key: str = "published/t.yaml") -> str:
    return f"https://byok-templates.s3.us-east-1.amazonaws.com/{key}"


def test_a_url_that_is_not_s3_is_refused(target: Target) -> None:
    _publish(target)
    message = _refusal(target, "https://example.com/published/t.yaml")
    if target.fixed:
        assert message == "TemplateURL must be a supported URL."
    else:
        assert message != "TemplateURL must be a supported URL."


def test_a_missing_object_is_refused(local: Target) -> None:
    _publish(local)
    message = _refusal(local, _url("published/missing.yaml"))
    assert message is not None and message.startswith("S3 error: The specified key does not")


def test_another_accounts_object_needs_a_bucket_policy(target: Target) -> None:
    _publish(target, policy=None)
    message = _refusal(target, _url())
    if target.fixed:
        assert message is not None and message.startswith("S3 error: Access Denied")
    else:
        assert message is None  # stock moto reads any account's bucket


def test_the_policy_covers_only_its_prefix(local: Target) -> None:
    _publish(local, key="private/t.yaml")
    message = _refusal(local, _url("private/t.yaml"))
    assert message is not None and message.startswith("S3 error: Access Denied")


def test_a_readable_object_creates_the_stack(local: Target) -> None:
    _publish(local)
    assert _refusal(local, _url()) is None
    # The owner's own account reads it without a policy; the local endpoint's path style too.
    s3 = local.client("s3", SERVICE_ACCOUNT)
    s3.put_object(Bucket="byok-templates", Key="private/own.yaml", Body=BODY.encode())
    assert _refusal(local, f"{local.url}/byok-templates/private/own.yaml", SERVICE_ACCOUNT) \
        is None
