"""Enablement with bad input: each case ends in a clear error with a specific code and a
message that tells the tenant what to fix, freezes nothing, and leaves the way open for a new
enablement. Real workflows and activities against localaws."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from byok import enablement
from byok.db import session_scope
from byok.errors import ByokError, Conflict, InvalidInput, Unauthorized
from byok.models import EnableToken, utcnow
from byok.settings import Settings
from control.enablement import deliver_callback
from tests.conftest import OTHER_ACCOUNT, TENANT_ACCOUNT
from tests.connect_helpers import request_connection
from tests.lazy import lazy
from tests.workflows.enable_helpers import (
    assert_refused,
    audit_actions,
    bindings,
    create_key,
    in_thread,
    result,
    snapshot,
    tenant_client,
    tenant_keys,
    terminate,
    token_row,
    trust_without_external_id,
    wallet,
)

KeySetup = Callable[[Settings], str]


def _replica_in_control_plane_region(settings: Settings) -> str:
    """A multi-region primary in eu-west-1 replicated into us-east-1: the id names a replica
    in the region the stack runs in."""
    key = create_key(settings, "eu-west-1")
    tenant_client(settings, "kms", "eu-west-1").replicate_key(
        KeyId=key["KeyId"], ReplicaRegion="us-east-1")
    return str(key["KeyId"])


def _primary_in_another_region(settings: Settings) -> str:
    return str(create_key(settings, "eu-west-1")["KeyId"])


def _arn_in_another_region(settings: Settings) -> str:
    return str(create_key(settings, "eu-west-1")["Arn"])


def _disabled(settings: Settings) -> str:
    key = create_key(settings)
    tenant_client(settings, "kms").disable_key(KeyId=key["KeyId"])
    return str(key["KeyId"])


def _pending_deletion(settings: Settings) -> str:
    key = create_key(settings)
    tenant_client(settings, "kms").schedule_key_deletion(KeyId=key["KeyId"],
                                                         PendingWindowInDays=7)
    return str(key["KeyId"])


def _other_account(settings: Settings) -> str:
    return str(create_key(settings, account=OTHER_ACCOUNT)["Arn"])


def _missing(settings: Settings) -> str:
    return "mrk-" + "0123456789abcdef" * 2


@pytest.mark.parametrize(("setup", "code", "needles"), [
    (_replica_in_control_plane_region, "KEY_IS_REPLICA", ("replica", "primary")),
    (_primary_in_another_region, "KEY_WRONG_REGION", ("eu-west-1", "us-east-1")),
    (_arn_in_another_region, "KEY_WRONG_REGION", ("eu-west-1", "us-east-1")),
    (_disabled, "KEY_DISABLED", ("disabled", "enable")),
    (_pending_deletion, "KEY_PENDING_DELETION", ("pending deletion", "cancel the deletion")),
    (_missing, "KEY_NOT_FOUND", ("does not exist", TENANT_ACCOUNT)),
    # The stack reports the parameter as given, so the account in the ARN is seen.
    (_other_account, "KEY_WRONG_ACCOUNT", ("777788889999", TENANT_ACCOUNT)),
], ids=["replica", "other-region-id", "other-region-arn", "disabled", "pending-deletion",
        "missing", "other-account-arn"])
async def test_stack_with_an_unusable_existing_key(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, setup: KeySetup, code: str, needles: tuple[str, ...]) -> None:
    existing = await in_thread(setup, settings)
    issued = await enable(tenant)
    payload = await deploy(issued, existing_key=existing)
    await deliver_callback(engine, lazy(temporal_env.client), payload)
    view = await result(temporal_env, issued.workflow_id)
    assert_refused(view, engine, tenant, code, *needles)
    # The tenant can start over: a new token, the wallet back in Waiting.
    again = await enable(tenant)
    assert again.token != issued.token and wallet(engine, tenant).state == "Waiting"
    await terminate(temporal_env.client, again.workflow_id)


def _grant_any_key(settings: Settings, role_arn: str) -> None:
    document = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": f"arn:aws:kms:*:{TENANT_ACCOUNT}:key/*"}]}
    tenant_client(settings, "iam").put_role_policy(
        RoleName=role_arn.rsplit("/", 1)[-1], PolicyName="HandMadeStack",
        PolicyDocument=json.dumps(document))


def _single_region(settings: Settings) -> str:
    return str(create_key(settings, multi_region=False)["KeyId"])


def _alias(settings: Settings) -> str:
    key = create_key(settings)
    tenant_client(settings, "kms").create_alias(AliasName="alias/ours", TargetKeyId=key["KeyId"])
    return "alias/ours"


def _alias_arn(settings: Settings) -> str:
    _alias(settings)
    return f"arn:aws:kms:us-east-1:{TENANT_ACCOUNT}:alias/ours"


@pytest.mark.parametrize(("setup", "code", "needles"), [
    (_single_region, "KEY_NOT_MULTI_REGION", ("single-region", "multi-region primary")),
    (_alias, "KEY_ID_IS_ALIAS", ("not an alias",)),
    (_alias_arn, "KEY_ID_IS_ALIAS", ("not an alias",)),
    (_other_account, "KEY_WRONG_ACCOUNT", (OTHER_ACCOUNT, TENANT_ACCOUNT)),
], ids=["single-region", "alias", "alias-arn", "other-account"])
async def test_callback_naming_an_unusable_key(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, setup: KeySetup, code: str, needles: tuple[str, ...]) -> None:
    """Keys the template's AllowedPattern cannot express reach us only in a callback that a
    hand-made stack (or anything holding the token) sends; such a stack's role may use them."""
    key_id = await in_thread(setup, settings)
    issued = await enable(tenant)
    payload = await deploy(issued)
    await in_thread(_grant_any_key, settings, payload["role_arn"])
    payload["multi_region_cmk_key_id"], payload["created_multi_region_cmk"] = key_id, "false"
    await deliver_callback(engine, lazy(temporal_env.client), payload)
    view = await result(temporal_env, issued.workflow_id)
    assert_refused(view, engine, tenant, code, *needles)
    again = await enable(tenant)
    assert wallet(engine, tenant).state == "Waiting"
    await terminate(temporal_env.client, again.workflow_id)


@pytest.mark.parametrize(("setup", "parameter"), [
    (_single_region, "UserMultiRegionCMKKeyId"),
    (_alias, "UserMultiRegionCMKKeyId"),
    (_alias_arn, "UserMultiRegionCMKKeyId"),
], ids=["single-region", "alias", "alias-arn"])
async def test_template_refuses_key_ids_it_cannot_use(
        engine: Engine, settings: Settings, tenant: str, enable: Any, deploy: Any,
        temporal_env: Any, setup: KeySetup, parameter: str) -> None:
    key_id = await in_thread(setup, settings)
    issued = await enable(tenant)
    before = snapshot(engine, tenant)
    with pytest.raises(InvalidInput) as info:
        await deploy(issued, existing_key=key_id)
    assert info.value.code == "STACK_REJECTED" and parameter in info.value.message
    assert snapshot(engine, tenant) == before
    await terminate(temporal_env.client, issued.workflow_id)


async def test_existing_multi_region_primary_is_used_and_no_key_is_created(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any) -> None:
    key = await in_thread(create_key, settings)
    issued = await enable(tenant)
    payload = await deploy(issued, existing_key=key["KeyId"])
    assert payload["created_multi_region_cmk"] == "false"
    await deliver_callback(engine, lazy(temporal_env.client), payload)
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert view.key_arn == key["Arn"]
    assert sorted(view.replica_key_arns) == ["eu-west-1", "us-west-2"]
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        assert await in_thread(tenant_keys, settings, region) == [key["KeyId"]]
    [binding] = bindings(engine, tenant)
    assert binding.key_arn == key["Arn"]


async def test_role_whose_trust_ignores_the_external_id_is_refused(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any) -> None:
    role_arn = await in_thread(trust_without_external_id, settings, "ByokVaultLaxRole")
    key = await in_thread(create_key, settings)
    issued = await enable(tenant)
    payload = {"request_type": "Create", "token": issued.token,
               "account_native_id": TENANT_ACCOUNT, "aws_region": "us-east-1",
               "role_arn": role_arn, "role_external_id": issued.external_id, "role_id": "",
               "multi_region_cmk_key_id": key["KeyId"], "created_multi_region_cmk": "false",
               "template_version": "2"}
    await deliver_callback(engine, lazy(temporal_env.client), payload)
    view = await result(temporal_env, issued.workflow_id)
    assert_refused(view, engine, tenant, "EXTERNAL_ID_NOT_ENFORCED", "sts:ExternalId")
    again = await enable(tenant)
    await terminate(temporal_env.client, again.workflow_id)


BAD_EXTERNAL_IDS = ["short", "has space", "x" * 129]


@pytest.mark.parametrize("external_id", BAD_EXTERNAL_IDS, ids=["short", "space", "129-chars"])
async def test_cloudformation_refuses_a_bad_external_id(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, external_id: str) -> None:
    issued = await enable(tenant)
    before = snapshot(engine, tenant)
    with pytest.raises(InvalidInput) as info:
        await deploy(issued, external_id=external_id)
    assert info.value.code == "STACK_REJECTED" and "ExternalId" in info.value.message
    cf = tenant_client(settings, "cloudformation")
    assert cf.describe_stacks()["Stacks"] == []
    assert snapshot(engine, tenant) == before
    await terminate(temporal_env.client, issued.workflow_id)


async def test_callback_endpoint_refuses_a_bad_external_id(
        temporal_env: Any, engine: Engine, tenant: str, enable: Any, deploy: Any) -> None:
    issued = await enable(tenant)
    payload = await deploy(issued)
    before = snapshot(engine, tenant)
    for external_id in BAD_EXTERNAL_IDS:
        with pytest.raises(InvalidInput) as info:
            await deliver_callback(engine, lazy(temporal_env.client),
                                   {**payload, "role_external_id": external_id})
        assert info.value.field == "role_external_id", info.value.message
        assert "ExternalId" in info.value.message
        assert snapshot(engine, tenant) == before
    # Nothing was consumed: the stack's own callback still goes through.
    await deliver_callback(engine, lazy(temporal_env.client), payload)
    assert (await result(temporal_env, issued.workflow_id)).state == "Enabled"


async def _refused(client: Any, engine: Engine, payload: dict[str, Any],
                   kind: type[ByokError], needle: str, *tenants: str) -> None:
    before = [snapshot(engine, t) for t in tenants]
    with pytest.raises(kind) as info:
        await deliver_callback(engine, lazy(client), payload)
    assert needle in info.value.message, info.value.message
    assert [snapshot(engine, t) for t in tenants] == before


async def test_callback_with_a_wrong_token_or_account_is_refused_and_changes_nothing(
        temporal_env: Any, engine: Engine, tenant: str, enable: Any, deploy: Any) -> None:
    client = temporal_env.client
    with session_scope(engine) as session:
        from byok import crud
        other = crud.create_tenant(session, name="globex")
        request_connection(session, tenant=other, account_id=OTHER_ACCOUNT,
                             regions=["us-east-1"])
        other_id = other.id
    issued = await enable(tenant)
    theirs = await enable(other_id, account=OTHER_ACCOUNT)
    payload = await deploy(issued)

    await _refused(client, engine, {**payload, "token": enablement.new_token()}, Unauthorized,
                   "unknown token", tenant, other_id)
    await _refused(client, engine, {**payload, "token": "x" * 35}, Unauthorized,
                   "malformed", tenant, other_id)
    # Another tenant's token on this tenant's stack: that token is bound to its own account.
    await _refused(client, engine, {**payload, "token": theirs.token}, Unauthorized,
                   f"issued for account {OTHER_ACCOUNT}", tenant, other_id)
    await _refused(client, engine, {**payload, "account_native_id": OTHER_ACCOUNT},
                   Unauthorized, f"issued for account {TENANT_ACCOUNT}", tenant, other_id)

    # Expired: the same callback a second after the token's deadline.
    good_until = token_row(engine, issued.token).expires_at
    _set_expiry(engine, issued.token, utcnow() - timedelta(seconds=1))
    await _refused(client, engine, payload, Unauthorized, "expired", tenant, other_id)
    _set_expiry(engine, issued.token, good_until)

    answer = await deliver_callback(engine, lazy(client), payload)
    assert answer == {"tenant_id": tenant, "accepted": True, "replayed": False}
    assert (await result(temporal_env, issued.workflow_id)).state == "Enabled"

    # Used: the identical callback again is an idempotent replay; anything else is refused.
    replay = await deliver_callback(engine, lazy(client), payload)
    assert replay == {"tenant_id": tenant, "accepted": True, "replayed": True}
    await _refused(client, engine, {**payload, "role_id": "AROAOTHER"}, Unauthorized,
                   "already used", tenant, other_id)
    assert audit_actions(engine, tenant)["wallet.callback_received"] == 1
    assert token_row(engine, theirs.token).used_at is None
    assert wallet(engine, other_id).state == "Waiting"
    await terminate(client, theirs.workflow_id)


def _set_expiry(engine: Engine, token: str, when: Any) -> None:
    with session_scope(engine) as session:
        row = session.get(EnableToken, enablement.hash_secret(token))
        assert row is not None
        row.expires_at = when
        session.add(row)


async def test_enabling_twice_is_refused_forever(
        temporal_env: Any, engine: Engine, tenant: str, enabled: Any, enable: Any) -> None:
    await enabled(tenant)
    before = snapshot(engine, tenant)
    with pytest.raises(Conflict) as info:
        await enable(tenant)
    assert info.value.code == "ALREADY_ENABLED" and "never be changed" in info.value.message
    assert snapshot(engine, tenant) == before
    # Even if the wallet later shows a problem (a health check), the binding stays frozen.
    with session_scope(engine) as session:
        from byok.models import Wallet
        row = session.get(Wallet, tenant)
        assert row is not None
        row.state, row.error_code = "Error", "KEY_DISABLED"
        session.add(row)
    with pytest.raises(Conflict) as info:
        await enable(tenant)
    assert info.value.code == "ALREADY_ENABLED"
    assert len(bindings(engine, tenant)) == 1
