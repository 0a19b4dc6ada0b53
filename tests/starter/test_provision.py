"""`byok provision` makes the service's own resources on a fresh account, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from byok.settings import Settings
from starter.cli import app


def test_provision_makes_the_service_resources_once(settings: Settings, localaws: Any,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    localaws.reset()
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.setenv("BYOK_AWS_ENDPOINT_URL", localaws.url)
    monkeypatch.delenv("BYOK_DATABASE_URL", raising=False)

    def client(name: str) -> Any:
        return boto3.client(name, endpoint_url=localaws.url, region_name="us-east-1")

    assert settings.vault_bucket not in {b["Name"] for b in client("s3").list_buckets()[
        "Buckets"]}
    for _ in range(2):  # the second run finds everything made and changes nothing
        out = CliRunner().invoke(app, ["provision"])
        assert out.exit_code == 0, out.output
    assert client("iam").get_role(RoleName=settings.service_role_name)["Role"]["Arn"] == \
        settings.service_role_arn
    client("s3").head_bucket(Bucket=settings.vault_bucket)
    topics = [t["TopicArn"] for t in client("sns").list_topics()["Topics"]]
    assert topics == [settings.callback_topic_arn]
    aliases = [a["AliasName"] for a in client("kms").list_aliases()["Aliases"]]
    assert aliases.count(settings.default_key_alias) == 1
    queues = sorted(u.rsplit("/", 1)[-1] for u in client("sqs").list_queues()["QueueUrls"])
    assert queues == [settings.callback_queue_name, f"{settings.callback_queue_name}-dlq"]
    # The templates are published where the tenants' TemplateURL points.
    from byok import cfn, template_store

    for version in cfn.TEMPLATE_VERSIONS:
        client("s3").head_object(Bucket=settings.template_bucket,
                                 Key=template_store.key(settings, version))

