"""The service role's policy, the statements test_permissions.py does not cover: each one taken
out of the deployed policy makes the named product step fail with AccessDenied; the Deny, taken
out, lets the service act on a role of its own account."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from activities.storage import S3Store
from byok.audit_anchor import S3Anchors
from byok.errors import ByokError, NotFound
from byok.settings import Settings
from tests.workflows.enable_helpers import in_thread
from tests.workflows.test_permissions import _service_policy_without


async def test_audit_anchor_verification_needs_list_bucket(settings: Settings,
                                                           aws: Any) -> None:
    # `byok audit verify` finds the newest anchor by listing audit-anchors/ in the vault.
    anchors = S3Anchors(aws.service("s3"), settings.vault_bucket)
    await in_thread(anchors.put, "20260101T000000Z.json", b"{}")
    assert (await in_thread(anchors.latest)) == ("20260101T000000Z.json", b"{}")
    _service_policy_without(aws, settings, "ListVault", "s3:ListBucket")
    with pytest.raises(ClientError) as caught:
        await in_thread(anchors.latest)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:ListBucket " in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("read", ["reader", "stream"])
async def test_a_missing_backup_object_is_named_only_with_list_bucket(
        settings: Settings, aws: Any, read: str) -> None:
    # A restore of a backup whose object is gone says so; without s3:ListBucket S3 answers
    # a missing object with AccessDenied (as it does on AWS) and the restore cannot tell.
    store = S3Store(aws.service("s3"), settings.vault_bucket)
    with pytest.raises(NotFound, match="missing from the vault"):
        await in_thread(getattr(store, read), "t/absent.byok")
    _service_policy_without(aws, settings, "ListVault", "s3:ListBucket")
    with pytest.raises(ClientError) as caught:
        await in_thread(getattr(store, read), "t/absent.byok")
    assert caught.value.response["Error"]["Code"] in ("AccessDenied", "403")


def _own_role(aws: Any, settings: Settings) -> str:
    """A role of the service's own account whose name matches the tenant role pattern and
    whose trust policy lets the service role in with an ExternalId, as a tenant's would."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": settings.service_role_arn},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "ext-own-account"}}}]}
    role = aws.base("iam").create_role(RoleName="ByokVaultOwnAccount",
                                       AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["Arn"].startswith(f"arn:aws:iam::{settings.service_account_id}:role/")
    return str(role["Arn"])


async def test_the_service_role_never_assumes_a_role_of_its_own_account(
        settings: Settings, aws: Any) -> None:
    # A "tenant" naming a role of the vendor's account: the AssumeRole enablement and every
    # tenant call make is refused by NoRolesOfThisAccount, whatever that role trusts.
    arn = _own_role(aws, settings)
    with pytest.raises(ByokError) as caught:
        await in_thread(aws.assume, arn, "ext-own-account", fresh=True)
    assert "AccessDenied" in str(caught.value), caught.value
    assert caught.value.code == "ROLE_NOT_ASSUMABLE", caught.value.code
    # Without the Deny, the pattern's Allow lets the service into its own account.
    _service_policy_without(aws, settings, "NoRolesOfThisAccount")
    creds = await in_thread(aws.assume, arn, "ext-own-account", fresh=True)
    assert creds.key
