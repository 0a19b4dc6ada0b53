"""`byok doctor` against localaws: a healthy deployment, then each problem it must name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from byok import cfn
from byok.aws import AwsClients
from byok.settings import Settings
from control.service_deploy import deploy_service_stack
from starter.doctor import run_doctor


def publish(aws: AwsClients, settings: Settings) -> None:
    for version in cfn.TEMPLATE_VERSIONS:
        body = cfn.render_template(version, settings.service_role_arn,
                                   settings.callback_topic_arn)
        aws.base("s3").put_object(Bucket=settings.template_bucket,
                                  Key=f"{settings.template_prefix}byok-v{version}.yaml", Body=body)


@pytest.fixture
def healthy(svc_aws: AwsClients, svc_settings: Settings) -> AwsClients:
    deploy_service_stack(svc_aws, svc_settings)
    publish(svc_aws, svc_settings)
    return svc_aws


def failing(aws: AwsClients, settings: Settings) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in run_doctor(aws, settings):
        if not f.ok:  # one check may report several problems: keep them all
            out[f.check] = " || ".join(filter(None, [out.get(f.check), f"{f.detail} | {f.fix}"]))
    return out


def test_a_healthy_deployment_passes_every_check(healthy, svc_settings):
    findings = run_doctor(healthy, svc_settings)
    assert {f.check for f in findings} >= {
        "settings", "stack", "topic policy", "subscription", "queue", "queue policy",
        "dead-letter queue", "vault bucket", "template bucket", "template v1", "template v2",
        "service role"}
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]


def test_no_stack(svc_aws, svc_settings):
    bad = failing(svc_aws, svc_settings)
    assert "no stack byok-vault-service" in bad["stack"] and "byok service deploy" in bad["stack"]
    assert "topic" in bad and "queue" in bad and "service role" in bad


def test_a_stack_behind_the_settings(healthy, svc_settings):
    changed = svc_settings.model_copy(update={"callback_max_receive_count": 9})
    assert "parameter MaxReceiveCount is '5', settings say '9'" in failing(healthy, changed)[
        "stack"]


def test_a_topic_policy_that_grants_more(healthy, svc_settings):
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sns:Publish", "sns:Subscribe"],
        "Resource": svc_settings.callback_topic_arn}]}
    healthy.base("sns").set_topic_attributes(TopicArn=svc_settings.callback_topic_arn,
                                             AttributeName="Policy",
                                             AttributeValue=json.dumps(policy))
    assert "sns:Subscribe" in failing(healthy, svc_settings)["topic policy"]


def test_a_queue_without_its_policy(healthy, svc_settings):
    sqs = healthy.base("sqs")
    url = sqs.get_queue_url(QueueName=svc_settings.callback_queue_name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "queue policy" in failing(healthy, svc_settings)


def test_dead_lettered_callbacks(healthy, svc_settings):
    sqs = healthy.base("sqs")
    dlq = sqs.get_queue_url(QueueName=f"{svc_settings.callback_queue_name}-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    assert "1 callbacks dead-lettered" in failing(healthy, svc_settings)["dead-letter queue"]


def test_a_vault_bucket_opened_to_the_public(healthy, svc_settings):
    healthy.base("s3").delete_public_access_block(Bucket=svc_settings.vault_bucket)
    assert "vault bucket" in failing(healthy, svc_settings)


def test_unpublished_templates(svc_aws, svc_settings):
    deploy_service_stack(svc_aws, svc_settings)
    bad = failing(svc_aws, svc_settings)
    assert set(bad) == {"template v1", "template v2"}
    assert "publish-templates" in bad["template v2"]


def test_unsafe_settings_are_reported(healthy, svc_settings):
    exposed = svc_settings.model_copy(update={"web_host": "0.0.0.0"})
    assert "BYOK_SESSION_SECRET" in failing(healthy, exposed)["settings"]


def test_cli_exits_1_with_the_problem_and_0_when_healthy(healthy, svc_settings, monkeypatch):
    from starter.cli import app

    for key, value in {"AWS_ENDPOINT_URL": svc_settings.aws_endpoint_url,
                       "CONTROL_PLANE_REGION": svc_settings.control_plane_region,
                       "VAULT_BUCKET": svc_settings.vault_bucket,
                       "TEMPLATE_BUCKET": svc_settings.template_bucket,
                       "ASSUME_SERVICE_ROLE": "false",
                       "HOME": str(svc_settings.home)}.items():
        monkeypatch.setenv(f"BYOK_{key}", value)
    ok = CliRunner().invoke(app, ["doctor"])
    assert ok.exit_code == 0, ok.output
    healthy.base("s3").delete_object(Bucket=svc_settings.template_bucket,
                                     Key="templates/byok-v2.yaml")
    bad = CliRunner().invoke(app, ["doctor", "--json"])
    assert bad.exit_code == 1
    failed = [f for f in json.loads(bad.output) if not f["ok"]]
    assert [f["check"] for f in failed] == ["template v2"]
    deployed = CliRunner().invoke(app, ["service", "deploy", "--json"])
    assert deployed.exit_code == 0 and json.loads(deployed.output)["action"] == "unchanged"
