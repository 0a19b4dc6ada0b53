"""The callback topic, queue and dead-letter queue with the policies AWS needs for them."""

from __future__ import annotations

import json
from typing import Any

from byok.service_policy import queue_policy, topic_policy
from byok.settings import Settings


def _arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def ensure_callback_queue(sns: Any, sqs: Any, settings: Settings) -> tuple[str, str]:
    """Idempotent; returns (topic ARN, queue URL)."""
    name = settings.callback_queue_name
    topic = str(sns.create_topic(Name=settings.callback_topic_name)["TopicArn"])
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy",
                             AttributeValue=json.dumps(topic_policy(topic)))
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = _arn(sqs, url)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "Policy": json.dumps(queue_policy(arn, topic)),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _arn(sqs, dlq),
                                     # then the dead-letter queue: a poison message
                                     # never blocks the rest
                                     "maxReceiveCount": str(settings.callback_max_receive_count)}),
        # Messages wait up to 4 days: a consumer outage loses nothing.
        "MessageRetentionPeriod": str(4 * 86400)})
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    if not any(s["Endpoint"] == arn for s in subs):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url
