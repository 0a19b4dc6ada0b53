"""The callback topic, queue and dead-letter queue with the policies AWS needs for them."""

from __future__ import annotations

import json
from typing import Any

from byok.settings import Settings

MAX_RECEIVES = 5  # then the dead-letter queue: a poison message never blocks the rest


def topic_policy(topic_arn: str, owner: str) -> dict[str, Any]:
    """Any account's stack may publish its request (tenants are not known in advance; each
    request is authenticated by its token); only the owner manages the topic."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "TenantStacksPublish", "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": "sns:Publish", "Resource": topic_arn},
        {"Sid": "OwnerManages", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{owner}:root"},
         "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic", "sns:DeleteTopic"],
         "Resource": topic_arn}]}


def queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """SNS may deliver to the queue, and only from our topic (aws:SourceArn)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TopicDelivers", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}


def _arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def ensure_callback_queue(sns: Any, sqs: Any, settings: Settings) -> tuple[str, str]:
    """Idempotent; returns (topic ARN, queue URL)."""
    name = settings.callback_topic_name
    topic = str(sns.create_topic(Name=name)["TopicArn"])
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=json.dumps(topic_policy(topic,
                                                                    settings.service_account_id)))
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = _arn(sqs, url)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "Policy": json.dumps(queue_policy(arn, topic)),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _arn(sqs, dlq),
                                     "maxReceiveCount": str(MAX_RECEIVES)}),
        # Messages wait up to 4 days: a consumer outage loses nothing.
        "MessageRetentionPeriod": str(4 * 86400)})
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    if not any(s["Endpoint"] == arn for s in subs):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url
