"""StsActivities: prove the tenant's role is assumable with, and only with, our ExternalId."""

from __future__ import annotations

import secrets

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
        self.aws.assume(check.role_arn, self.external_id(check.tenant_id), fresh=True)
        # The confused-deputy guard: the trust policy must refuse us without the ExternalId.
        for probe in (None, "byok-probe-" + secrets.token_hex(8)):
            try:
                self.aws.assume(check.role_arn, probe, fresh=True)
            except RoleNotAssumable:
                continue
            raise RoleNotAssumable(
                "the role can be assumed without the ExternalId we issued: its trust policy must "
                "have the condition StringEquals sts:ExternalId; redeploy our template unchanged",
                code="EXTERNAL_ID_NOT_ENFORCED")
        return Done()
