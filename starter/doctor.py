"""`byok doctor`: checks a deployment (settings, the service stack, its policies, the queue,
the buckets, the published templates) and says what is wrong and how to fix it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from byok import cfn, partition, service_stack
from byok.aws import AwsClients, error_code
from byok.settings import Settings
from byok.startup import check_real_mode
from control.service_deploy import describe, drift

DEPLOY = "run `byok service deploy`"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def _statements(policy: str | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    stmts = json.loads(policy).get("Statement", [])
    return stmts if isinstance(stmts, list) else [stmts]


def _actions(stmt: dict[str, Any]) -> list[str]:
    value = stmt.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def run_doctor(aws: AwsClients, settings: Settings) -> list[Finding]:
    checks: list[Callable[[AwsClients, Settings], Iterator[Finding]]] = [
        _settings, _stack, _topic, _queue, _vault_bucket, _template_bucket, _role]
    findings = []
    for check in checks:
        try:
            findings += list(check(aws, settings))
        except ClientError as exc:
            findings.append(Finding(check.__name__.strip("_"), False,
                                    f"AWS refused the check: {error_code(exc)}",
                                    "check the credentials this command runs with"))
    return findings


def _settings(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    problems = check_real_mode(settings, settings.web_host)
    for p in problems:
        yield Finding("settings", False, p, "set the variable and restart every process")
    if not problems:
        yield Finding("settings", True, "safe to start")


def _stack(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    cf, name = aws.base("cloudformation"), settings.service_stack_name
    stack = describe(cf, name)
    if stack is None:
        yield Finding("stack", False, f"no stack {name} in {settings.control_plane_region}",
                      DEPLOY)
        return
    if stack["StackStatus"] not in service_stack.DONE:
        yield Finding("stack", False, f"stack {name} is {stack['StackStatus']}",
                      f"read its events, then {DEPLOY}")
        return
    differences = drift(cf, stack, settings)
    yield Finding("stack", not differences,
                  "; ".join(differences) or f"{name} is current", DEPLOY if differences else "")


def _topic(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    sns, arn = aws.base("sns"), settings.callback_topic_arn
    try:
        attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    except ClientError:
        yield Finding("topic", False, f"topic {arn} does not exist", DEPLOY)
        return
    stmts = [s for s in _statements(attrs.get("Policy")) if s.get("Effect") == "Allow"]
    extra = sorted({a for s in stmts for a in _actions(s) if a.lower() != "sns:publish"})
    if extra:
        yield Finding("topic policy", False, f"grants more than sns:Publish: {extra}", DEPLOY)
    elif not any(s.get("Principal") in ({"AWS": "*"}, "*") for s in stmts):
        yield Finding("topic policy", False, "tenants' stacks may not publish: their "
                      "CloudFormation custom resources would time out", DEPLOY)
    else:
        yield Finding("topic policy", True, "tenants' stacks may publish, nothing else")
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    queue_arn = partition.arn(settings.control_plane_region, "sqs", settings.service_account_id,
                              settings.callback_queue_name)
    if not any(s["Protocol"] == "sqs" and s["Endpoint"] == queue_arn for s in subs):
        yield Finding("subscription", False, f"the topic does not deliver to {queue_arn}", DEPLOY)
    else:
        yield Finding("subscription", True, "the topic delivers to the callback queue")


def _queue(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    sqs, name = aws.base("sqs"), settings.callback_queue_name
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError:
        yield Finding("queue", False, f"queue {name} is not reachable", DEPLOY)
        return
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    yield Finding("queue", True, f"reachable, {attrs.get('ApproximateNumberOfMessages', '?')} "
                  "messages waiting")
    sends = [s for s in _statements(attrs.get("Policy"))
             if s.get("Effect") == "Allow" and "sqs:SendMessage" in _actions(s)]
    limited = sends and all(
        s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")
        == settings.callback_topic_arn for s in sends)
    yield Finding("queue policy", bool(limited),
                  "only the callback topic may send" if limited else
                  "the queue does not take (only) the callback topic's messages", "" if limited
                  else DEPLOY)
    if "RedrivePolicy" not in attrs:
        yield Finding("dead-letter queue", False, "no redrive policy", DEPLOY)
        return
    dlq = sqs.get_queue_url(QueueName=json.loads(attrs["RedrivePolicy"])[
        "deadLetterTargetArn"].rsplit(":", 1)[1])["QueueUrl"]
    dead = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    yield Finding("dead-letter queue", dead == 0, f"{dead} callbacks dead-lettered",
                  "" if dead == 0 else f"read them (aws sqs receive-message --queue-url {dlq}), "
                  "fix the cause, then redrive them (aws sqs start-message-move-task)")


def _bucket_basics(s3: Any, bucket: str, *, all_blocked: bool) -> Iterator[str]:
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    wanted = (["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
               "RestrictPublicBuckets"] if all_blocked else ["BlockPublicAcls", "IgnorePublicAcls"])
    yield from (f"{k} is off" for k in wanted if not block.get(k))
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    if not any(s.get("Effect") == "Deny" and s.get("Condition", {}).get("Bool", {}).get(
            "aws:SecureTransport") == "false" for s in _statements(policy)):
        yield "the bucket policy does not refuse requests without TLS"


def _check_bucket(s3: Any, check: str, bucket: str, *, all_blocked: bool,
                  extra: Callable[[], list[str]]) -> Iterator[Finding]:
    try:
        s3.head_bucket(Bucket=bucket)
        problems = [*_bucket_basics(s3, bucket, all_blocked=all_blocked), *extra()]
    except ClientError as exc:
        problems = [f"{bucket}: {error_code(exc)} (missing, or without the settings the stack "
                    "gives it)"]
    yield Finding(check, not problems, "; ".join(problems) or f"{bucket} is as declared",
                  DEPLOY if problems else "")


def _vault_bucket(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    s3 = aws.base("s3")
    yield from _check_bucket(s3, "vault bucket", settings.vault_bucket, all_blocked=True,
                             extra=lambda: [])


def _template_bucket(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    bucket = settings.template_bucket
    if not bucket:
        return
    s3 = aws.base("s3")

    def versioned() -> list[str]:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        return [] if status == "Enabled" else ["versioning is off"]

    yield from _check_bucket(s3, "template bucket", bucket, all_blocked=False, extra=versioned)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=settings.template_prefix)
    bodies = {s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
              for o in listed.get("Contents", [])}
    for version in cfn.TEMPLATE_VERSIONS:
        text = cfn.render_template(version, settings.service_role_arn,
                                   settings.callback_topic_arn).encode()
        yield Finding(f"template v{version}", text in bodies,
                      "published" if text in bodies else
                      f"no object under s3://{bucket}/{settings.template_prefix} holds it",
                      "" if text in bodies else "run `byok service publish-templates`")


def _role(aws: AwsClients, settings: Settings) -> Iterator[Finding]:
    iam, name = aws.base("iam"), settings.service_role_name
    try:
        iam.get_role(RoleName=name)
    except ClientError:
        yield Finding("service role", False, f"role {name} does not exist", DEPLOY)
        return
    stmts: list[dict[str, Any]] = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        stmts += doc["Statement"] if isinstance(doc, dict) else _statements(doc)
    allows = [s for s in stmts if s.get("Effect") == "Allow"]
    wild = sorted({a for s in allows for a in _actions(s) if a == "*" or a.endswith(":*")})
    if wild:
        yield Finding("service role", False, f"wildcard actions granted: {wild}", DEPLOY)
    elif not any("sts:AssumeRole" in _actions(s) for s in allows):
        yield Finding("service role", False, "may not assume tenants' roles", DEPLOY)
    else:
        yield Finding("service role", True, "least-privilege policy in place")
