"""SNS -> SQS delivery as AWS does it: only when the queue's policy lets the topic send.

SNS delivers as the service principal sns.amazonaws.com with aws:SourceArn (the topic) and
aws:SourceAccount; a queue whose policy does not allow that never receives the message (AWS
drops it, as here). Lax servers deliver regardless."""

from __future__ import annotations

import logging
from typing import Any

from . import authz, resources
from .accounts import Caller
from .operations import Request

log = logging.getLogger(__name__)
# Whether delivery is evaluated: the server sets it from its strict flag.
enforced = True


def may_deliver(topic_arn: str, queue_arn: str) -> bool:
    parts = queue_arn.split(":")
    account, region = parts[4], parts[3]
    topic_account = topic_arn.split(":")[4]
    sns = Caller(topic_account, "sns.amazonaws.com", service="sns.amazonaws.com")
    req = Request(service="sqs", operation="SendMessage", params={}, region=region,
                  account=topic_account)
    queue = resources._sqs_queue(queue_arn)
    check = authz.Check("sqs:SendMessage", queue_arn, account,
                        resource_policy=queue.policy if queue is not None else None,
                        context={"aws:SourceArn": [topic_arn],
                                 "aws:SourceAccount": [topic_account]})
    return authz.decide(sns, req, check) is None


def _publish(original: Any) -> Any:
    def publish(self: Any, message: str, *args: Any, **kwargs: Any) -> None:
        if enforced and self.protocol == "sqs" and not may_deliver(self.topic.arn, self.endpoint):
            log.info("SNS did not deliver to %s: its policy does not allow %s", self.endpoint,
                     self.topic.arn)
            return
        original(self, message, *args, **kwargs)

    return publish


def apply() -> None:
    from moto.sns.models import Subscription

    Subscription.publish = _publish(Subscription.publish)  # type: ignore[method-assign]
