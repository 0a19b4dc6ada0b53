"""CloudFormationActivities: read the stack notifications that the tenant's custom resource
publishes to our topic, the fallback when the HTTP callback is lost."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from byok import cfn, enablement
from byok.aws import AwsClients
from byok.db import session_scope
from byok.errors import ByokError
from byok.messages import PollInput, PollResult
from byok.settings import Settings


def callback_payload(body: str) -> dict[str, Any] | None:
    """The callback fields of one queue message (an SNS envelope around a custom-resource
    request), or None when the message is something else."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and "Message" in doc:
            doc = json.loads(doc["Message"])
    except (ValueError, TypeError):
        return None
    if not isinstance(doc, dict) or "ResourceProperties" not in doc:
        return None
    props = {k: v for k, v in doc["ResourceProperties"].items() if k != "ServiceToken"}
    return {"request_type": doc.get("RequestType", ""), **props}


class CloudFormationActivities:
    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings):
        self.aws = aws
        self.engine = engine
        self.settings = settings

    @activity.defn
    @byok_errors
    def poll_stack(self, inp: PollInput) -> PollResult:
        result = PollResult(callback=self._read_queue(inp.tenant_id))
        if result.callback is None:
            role = f"arn:aws:iam::{inp.account_id}:role/{cfn.DEFAULT_ROLE_NAME}"
            with session_scope(self.engine) as session:
                external_id = enablement.external_id_for(session, inp.tenant_id)
            try:
                self.aws.assume(role, external_id, fresh=True)
                result.role_found = True
            except ByokError:
                result.role_found = False
        return result

    def _read_queue(self, tenant_id: str) -> Any:
        sqs = self.aws.service("sqs")
        url = sqs.get_queue_url(QueueName=self.settings.callback_topic_name)["QueueUrl"]
        for _ in range(10):
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                return None
            for msg in msgs:
                payload = callback_payload(msg["Body"])
                found = self._accept(tenant_id, payload) if payload else None
                if payload is None or found is not False:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
                else:
                    # Another tenant's notification: leave it for that tenant's poll.
                    sqs.change_message_visibility(QueueUrl=url, VisibilityTimeout=0,
                                                  ReceiptHandle=msg["ReceiptHandle"])
                if found not in (None, False):
                    return found
        return None

    def _accept(self, tenant_id: str, payload: dict[str, Any]) -> Any:
        """The callback if the message is ours; False if another tenant's; None if stale."""
        token = str(payload.get("token") or "")
        with session_scope(self.engine) as session:
            row = session.get(enablement.EnableToken, enablement.hash_secret(token))
            if row is None:
                return None
            if row.tenant_id != tenant_id:
                return False
            try:
                _row, callback, replayed = enablement.accept_callback(session, payload)
            except ByokError:
                return None
        callback.source = "poll"
        return None if replayed else callback
