"""CallbackActivities: answer a stack's custom-resource request on its ResponseURL."""

from __future__ import annotations

from temporalio import activity

from activities.base import byok_errors
from byok import stack_reply
from byok.custom_resource import ReplyInput
from byok.settings import Settings


class CallbackActivities:
    def __init__(self, settings: Settings):
        self.settings = settings

    @activity.defn
    @byok_errors
    def reply(self, inp: ReplyInput) -> int:
        """PUT the answer. Retries send the same body: CloudFormation keeps the first it reads
        and ignores the rest, so the answer the stack sees is decided exactly once."""
        return stack_reply.send(inp, local_endpoint=self.settings.aws_endpoint_url)
