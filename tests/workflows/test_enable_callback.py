"""The stack-callback path as AWS runs it: the stack's custom resource publishes to SNS, SQS
holds the request, the consumer hands it to the workflow, and our answer on the ResponseURL
decides whether the stack completes or rolls back."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from byok.custom_resource import parse_message
from byok.errors import AwsError
from byok.settings import Settings
from control.callbacks import deliver, hand_over
from tests.conftest import OTHER_ACCOUNT, TENANT_ACCOUNT
from tests.workflows.enable_helpers import (
    audit_actions,
    bindings,
    create_key,
    result,
    snapshot,
    tenant_client,
    terminate,
    token_row,
)

STACK = f"byok-vault-{TENANT_ACCOUNT}"  # the name deploy_stack gives when none is passed


def _stack(settings: Settings, name: str, account: str = TENANT_ACCOUNT) -> dict[str, Any]:
    cf = tenant_client(settings, "cloudformation", account=account)
    stack: dict[str, Any] = cf.describe_stacks(StackName=name)["Stacks"][0]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    stack["reasons"] = [f"{e['LogicalResourceId']} {e['ResourceStatus']} "
                        f"{e.get('ResourceStatusReason', '')}" for e in events]
    return stack


def _answers(localaws: Any) -> list[dict[str, Any]]:
    return [r for r in localaws.cfn_responses() if r["used"]]


async def _until_answered(localaws: Any, request_type: str) -> list[dict[str, Any]]:
    """The answers so far, once one for a request of this type arrived (the consumer answers
    a rollback's Delete after the stack is already gone)."""
    for _ in range(100):
        if any(a["request_type"] == request_type for a in _answers(localaws)):
            break
        await asyncio.sleep(0.1)
    return _answers(localaws)


async def _refused_deploy(deploy: Any, issued: Any, **kwargs: Any) -> str:
    with pytest.raises(AwsError) as err:
        await deploy(issued, wait=True, **kwargs)
    assert err.value.code == "STACK_FAILED"
    return err.value.message


async def test_stack_completes_only_because_our_answer_arrived(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, consumer: Any, localaws: Any) -> None:
    issued = await enable(tenant)
    report = await deploy(issued, wait=True)
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert _stack(settings, STACK)["StackStatus"] == "CREATE_COMPLETE"
    # Exactly one answer for the one Create request, SUCCESS with the verified role and key.
    answers = _answers(localaws)
    assert [a["request_type"] for a in answers] == ["Create"]
    doc = answers[0]["response"]
    assert doc["Status"] == "SUCCESS"
    assert doc["Data"] == {"RoleArn": report["role_arn"], "KeyArn": view.key_arn}
    assert len(localaws.cfn_responses()) == 1
    counts = audit_actions(engine, tenant)
    assert counts["wallet.callback_received"] == 1 and counts["wallet.enabled"] == 1
    assert token_row(engine, issued.token).used_at is not None


async def test_bad_token_leaves_the_stack_rolled_back_with_our_reason(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, consumer: Any) -> None:
    issued = await enable(tenant)
    before = snapshot(engine, tenant)
    forged = type(issued)(**{**issued.__dict__, "token": "A" * 36})
    message = await _refused_deploy(deploy, forged)
    assert "unknown token" in message
    stack = _stack(settings, STACK)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("Notify CREATE_FAILED" in r and "unknown token" in r for r in stack["reasons"])
    # The rollback deleted the role; our side changed nothing (no tenant to audit).
    iam = tenant_client(settings, "iam")
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"] == "ByokVaultKMSRole"]
    assert snapshot(engine, tenant) == before
    await terminate(temporal_env.client, issued.workflow_id)


async def test_other_account_is_answered_failed_and_audited(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, consumer: Any) -> None:
    issued = await enable(tenant)
    before = snapshot(engine, tenant)
    message = await _refused_deploy(deploy, issued, account_id=OTHER_ACCOUNT)
    assert f"issued for account {TENANT_ACCOUNT}" in message
    stack = _stack(settings, f"byok-vault-{OTHER_ACCOUNT}", OTHER_ACCOUNT)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    after = snapshot(engine, tenant)
    assert (after.wallet, after.tokens, after.bindings) == \
        (before.wallet, before.tokens, before.bindings)
    assert audit_actions(engine, tenant)["wallet.callback_refused"] == 1
    await terminate(temporal_env.client, issued.workflow_id)


async def test_reused_token_is_refused_on_a_second_stack(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, consumer: Any) -> None:
    issued = await enable(tenant)
    await deploy(issued, wait=True)
    assert (await result(temporal_env, issued.workflow_id)).state == "Enabled"
    frozen = bindings(engine, tenant)
    message = await _refused_deploy(deploy, issued, stack_name="byok-vault-second",
                                    role_name="ByokVaultSecondRole")
    assert "already used" in message
    assert _stack(settings, "byok-vault-second")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert [b.key_arn for b in bindings(engine, tenant)] == [b.key_arn for b in frozen]
    assert audit_actions(engine, tenant)["wallet.callback_refused"] == 1


async def test_unusable_key_is_answered_failed_and_nothing_is_frozen(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, consumer: Any, localaws: Any) -> None:
    """The service never freezes a binding whose stack then rolls back: the Create is
    answered only after role and key are proven, and a failure answers FAILED first."""
    key = await asyncio.to_thread(create_key, settings)
    await asyncio.to_thread(tenant_client(settings, "kms").disable_key, KeyId=key["KeyId"])
    issued = await enable(tenant)
    message = await _refused_deploy(deploy, issued, existing_key=key["KeyId"])
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Error" and view.error_code == "KEY_DISABLED"
    assert view.error_message and view.error_message in message
    assert _stack(settings, STACK)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert bindings(engine, tenant) == []
    statuses = [a["response"]["Status"] for a in await _until_answered(localaws, "Delete")]
    # The Create answered FAILED once; the rollback's Delete always SUCCESS.
    assert statuses[0] == "FAILED" and Counter(statuses) == Counter(FAILED=1, SUCCESS=1)


async def test_finished_enablement_answers_failed_and_changes_nothing(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, consumer: Any) -> None:
    issued = await enable(tenant)
    await terminate(temporal_env.client, issued.workflow_id)
    before = snapshot(engine, tenant)
    message = await _refused_deploy(deploy, issued)
    assert "no enablement is waiting" in message
    after = snapshot(engine, tenant)
    assert after.tokens == before.tokens  # the token was not consumed by a refused request
    assert token_row(engine, issued.token).used_at is None


async def _queued_request(settings: Settings, aws: Any) -> Any:
    sqs = aws.service("sqs")
    url = sqs.get_queue_url(QueueName=settings.callback_queue_name)["QueueUrl"]
    for _ in range(50):
        msgs = (await asyncio.to_thread(sqs.receive_message, QueueUrl=url,
                                        WaitTimeSeconds=1)).get("Messages", [])
        if msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
            return parse_message(msgs[0]["Body"])
    raise AssertionError("no request reached the queue")


async def test_redelivery_after_a_crash_is_delivered_once(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, worker: Any, aws: Any, localaws: Any) -> None:
    """A consumer that dies after the workflow took the request but before the token was
    committed: the request comes back, is accepted again and the run keeps one report."""
    from byok import enablement
    from byok.custom_resource import callback_payload
    from byok.db import session_scope
    from control.callbacks import _public

    issued = await enable(tenant)
    await deploy(issued)  # the stack waits; no consumer runs in this test
    request = await _queued_request(settings, aws)
    with session_scope(engine) as session:  # the crash: delivered, then rolled back
        _row, callback, _ = enablement.accept_callback(session, callback_payload(request))
        callback.source, callback.request = "queue", _public(request)
        await hand_over(temporal_env.client, issued.workflow_id, callback,
                        f"stack-{request.request_id}")
        session.rollback()
    assert token_row(engine, issued.token).used_at is None
    for _ in range(2):  # redelivered, then redelivered again
        outcome = await deliver(temporal_env.client, engine, settings, request)
        assert outcome.delivered and outcome.tenant_id == tenant
    view = await result(temporal_env, issued.workflow_id)
    assert view.state == "Enabled", (view.error_code, view.error_message)
    assert audit_actions(engine, tenant)["wallet.callback_received"] == 1
    assert [a["request_type"] for a in _answers(localaws)] == ["Create"]
    assert _stack(settings, STACK)["StackStatus"] == "CREATE_COMPLETE"


async def test_delete_is_always_answered_success(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enabled: Any,
        consumer: Any, localaws: Any) -> None:
    await enabled(tenant)
    cf = tenant_client(settings, "cloudformation")
    name = cf.describe_stacks()["Stacks"][0]["StackName"]
    await asyncio.to_thread(cf.delete_stack, StackName=name)
    delete = [a for a in await _until_answered(localaws, "Delete")
              if a["request_type"] == "Delete"]
    assert [a["response"]["Status"] for a in delete] == ["SUCCESS"]
    assert audit_actions(engine, tenant)["wallet.stack_deleted"] == 1
    assert len(bindings(engine, tenant)) == 1  # the binding stays; key health watches it


async def test_forged_response_url_is_never_called(
        temporal_env: Any, engine: Engine, settings: Settings, worker: Any, aws: Any) -> None:
    from control.consumer import CallbackConsumer

    forged = {"RequestType": "Create", "RequestId": "r-1", "LogicalResourceId": "Notify",
              "ResponseURL": "http://169.254.169.254/latest/meta-data/",
              "StackId": f"arn:aws:cloudformation:us-east-1:{TENANT_ACCOUNT}:stack/x/1",
              "ResourceProperties": {"token": "A" * 36}}
    sns = aws.service("sns")
    await asyncio.to_thread(sns.publish, TopicArn=settings.callback_topic_arn,
                            Message=json.dumps(forged))
    consumer = CallbackConsumer(temporal_env.client, engine, settings, aws.service("sqs"))
    outcomes = await consumer.poll_once(wait_seconds=2)
    assert [(o.delivered, o.answered, o.reason) for o in outcomes] == \
        [(False, "", "ResponseURL not allowed")]
    assert await consumer.poll_once(wait_seconds=0) == []  # removed, not put back
