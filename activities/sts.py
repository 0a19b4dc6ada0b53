"""StsActivities: prove the tenant's role is assumable with, and only with, our ExternalId."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio import activity

from activities.base import byok_errors
from byok import enablement
from byok.aws import AwsClients
from byok.db import session_scope
from byok.errors import InvalidInput, RoleNotAssumable
from byok.messages import Done, RoleCheck


class StsActivities:
    def __init__(self, aws: AwsClients, engine: Engine):
        self.aws = aws
        self.engine = engine

    def external_id(self, tenant_id: str) -> str:
        with session_scope(self.engine) as session:
            return enablement.external_id_for(session, tenant_id)

    @activity.defn
    @byok_errors
    def verify_role(self, check: RoleCheck) -> Done:
        parts = check.role_arn.split(":")
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            raise InvalidInput(f"{check.role_arn!r} is not an IAM role ARN", code="ROLE_INVALID")
        if parts[4] != check.account_id:
            raise RoleNotAssumable(
                f"the role is in account {parts[4]}, but BYOK is being enabled for account "
                f"{check.account_id}; deploy the stack in account {check.account_id}",
                code="ROLE_WRONG_ACCOUNT")
        external_id = self.external_id(check.tenant_id)
        self.aws.prove_role(check.role_arn, external_id, self.aws.settings.aws_consistency_seconds,
                            waiting=heartbeat)
        return Done()


def heartbeat() -> None:
    activity.heartbeat("waiting for AWS to settle")
