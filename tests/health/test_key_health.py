"""KeyHealthWorkflow against localaws: each way a key goes wrong, one alert per change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from byok.errors import ByokError


def kid(arn: str) -> str:
    """localaws (moto) takes only key ids in DisableKey/EnableKey/...; real KMS takes ARNs too."""
    return arn.rsplit("/", 1)[-1]


def paused(exc: BaseException) -> str:
    """The BackupsPaused message out of a failed BackupWorkflow (activity -> workflow)."""
    cause: Any = exc
    while cause is not None and getattr(cause, "type", None) != "BackupsPaused" and \
            getattr(cause, "code", None) != "BACKUPS_PAUSED":
        cause = getattr(cause, "cause", None)
    assert cause is not None, f"not paused by key health: {exc!r}"
    return str(cause.message)


async def refused(backup: Any, region: str) -> str:
    with pytest.raises((WorkflowFailureError, ByokError)) as info:
        await backup(region)
    return paused(info.value)


async def test_first_check_is_healthy_and_quiet(hooks: Any) -> None:
    out = await hooks.check()
    assert out.checked and out.state == "Healthy" and out.alert_id is None
    view = hooks.view()
    assert {r["region"]: r["state"] for r in view["regions"]} == {
        "us-east-1": "Healthy", "us-west-2": "Healthy", "eu-west-1": "Healthy"}
    assert hooks.alerts() == [] and view["findings"] == []


async def test_disabled_key_pauses_backups_once_then_they_resume(hooks: Any, root: Any,
                                                                  backup: Any) -> None:
    made = await backup("us-east-1", size=3000)
    await backup("us-east-1", workload="rds", size=1000)
    await hooks.check()
    root("kms").disable_key(KeyId=kid(made["key_arn"]))
    out = await hooks.check()
    assert out.state == "Unavailable" and out.alert_id
    assert hooks.region("us-east-1")["findings"][0]["code"] == "KEY_DISABLED"
    assert hooks.region("us-west-2")["state"] == "Healthy"
    again = await hooks.check()  # the same finding twice: one alert, not two
    assert again.state == "Unavailable" and again.alert_id is None
    alerts = hooks.alerts()
    assert len(alerts) == 1 and len(hooks.audit("key_health.changed")) == 1
    radius = alerts[0].details["blast_radius"][0]
    assert (radius["region"], radius["backups"], radius["bytes"]) == ("us-east-1", 2, 4000)
    assert radius["by_workload"] == {"rds": {"backups": 1, "bytes": 1000},
                                     "vmware_vm": {"backups": 1, "bytes": 3000}}
    assert "2 backups (4000 bytes" in alerts[0].message
    assert "KEY_DISABLED" in await refused(backup, "us-east-1")
    assert (await backup("us-west-2"))["status"] == "complete"  # only the sick region waits
    root("kms").enable_key(KeyId=kid(made["key_arn"]))
    back = await hooks.check()
    assert back.state == "Healthy" and back.alert_id
    assert [a.state for a in hooks.alerts()] == ["Unavailable", "Healthy"]
    assert (await backup("us-east-1"))["status"] == "complete"  # resumed by itself


async def test_replica_deletion_deadline_then_cancel_disabled_enable(hooks: Any,
                                                                     root: Any) -> None:
    await hooks.check()
    replica = hooks.region("us-west-2")["key_arn"]
    kms = root("kms", "us-west-2")
    kms.schedule_key_deletion(KeyId=kid(replica), PendingWindowInDays=7)
    out = await hooks.check()
    assert out.state == "Degraded" and out.alert_id
    region = hooks.region("us-west-2")
    finding = region["findings"][0]
    assert region["state"] == "AtRisk" and finding["code"] == "KEY_PENDING_DELETION"
    assert finding["deletion_date"] and 6.9 < finding["days_left"] <= 7.0
    message = hooks.alerts()[-1].message
    assert "cancel the key deletion" in message and "then enable the key" in message
    assert f"Do it before {finding['deletion_date']}" in message and "days left" in message
    assert (await hooks.check()).alert_id is None
    kms.cancel_key_deletion(KeyId=kid(replica))  # as in real KMS: the key comes back Disabled
    out = await hooks.check()
    assert out.alert_id and hooks.region("us-west-2")["findings"][0]["code"] == \
        "REPLICA_DISABLED"
    assert (await hooks.check()).alert_id is None
    kms.enable_key(KeyId=kid(replica))
    out = await hooks.check()
    assert out.state == "Healthy" and out.alert_id
    assert [(a.previous_state, a.state) for a in hooks.alerts()] == [
        ("Healthy", "Degraded"), ("Degraded", "Degraded"), ("Degraded", "Healthy")]
    changes = [a.details["changes"][0]["to"] for a in hooks.alerts()]
    assert changes == ["AtRisk", "Unavailable", "Healthy"]


async def test_deletion_deadline_passes_lost_and_backups_irretrievable(
        hooks: Any, root: Any, backup: Any, localaws: Any) -> None:
    east = await backup("us-east-1")
    west = await backup("us-west-2")
    await hooks.check()
    for region in ("us-west-2", "eu-west-1"):
        root("kms", region).schedule_key_deletion(KeyId=kid(hooks.region(region)["key_arn"]),
                                                  PendingWindowInDays=7)
    root("kms").schedule_key_deletion(KeyId=kid(east["key_arn"]), PendingWindowInDays=7)
    out = await hooks.check()
    assert out.state == "AtRisk"
    assert hooks.region("us-east-1")["findings"][0]["code"] == "KEY_PENDING_REPLICA_DELETION"
    localaws.advance_clock(days=8)  # the replicas go; the primary's own 7 days start
    await hooks.check()
    assert hooks.region("us-east-1")["findings"][0]["code"] == "KEY_PENDING_DELETION"
    localaws.advance_clock(days=8)
    out = await hooks.check()
    assert out.state == "Lost"
    assert {r["findings"][0]["code"] for r in hooks.view()["regions"]} == {"KEY_DELETED"}
    from control.catalog import list_backups
    listed = {b["id"]: b["status"] for b in list_backups(hooks.engine, hooks.tenant_id)}
    assert listed[east["id"]] == listed[west["id"]] == "irretrievable"
    assert len(hooks.audit("backups.irretrievable")) == 2
    assert "KEY_DELETED" in await refused(backup, "us-east-1")
    assert (await hooks.check()).alert_id is None


async def test_role_deleted(hooks: Any, root: Any, backup: Any) -> None:
    await hooks.check()
    iam = root("iam")
    name = hooks.region("us-east-1")  # the role named in the binding
    role = "ByokVaultKMSRole"
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    iam.delete_role(RoleName=role)
    out = await hooks.check()
    assert name and out.state == "Unavailable" and out.alert_id
    assert {r["findings"][0]["code"] for r in hooks.view()["regions"]} == {"ROLE_ACCESS_LOST"}
    assert "ROLE_ACCESS_LOST" in await refused(backup, "eu-west-1")


async def test_trust_without_external_id_is_flagged(hooks: Any, root: Any,
                                                    settings: Any) -> None:
    await hooks.check()
    loose = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": settings.service_role_arn},
        "Action": "sts:AssumeRole"}]}
    root("iam").update_assume_role_policy(RoleName="ByokVaultKMSRole",
                                          PolicyDocument=json.dumps(loose))
    out = await hooks.check()
    # The key still works, so nothing is paused, but the tenant hears of it once.
    assert out.state == "Healthy" and out.alert_id
    assert [f["code"] for f in hooks.view()["findings"]] == ["ROLE_EXTERNAL_ID_NOT_ENFORCED"]
    assert (await hooks.check()).alert_id is None


async def test_trust_with_another_external_id_loses_access(hooks: Any, root: Any,
                                                           settings: Any) -> None:
    await hooks.check()
    other = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": settings.service_role_arn},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "not-the-one-we-issued"}}}]}
    root("iam").update_assume_role_policy(RoleName="ByokVaultKMSRole",
                                          PolicyDocument=json.dumps(other))
    out = await hooks.check()
    assert out.state == "Unavailable"
    assert {r["findings"][0]["code"] for r in hooks.view()["regions"]} == {"ROLE_ACCESS_LOST"}


async def test_key_policy_denies_the_role(hooks: Any, root: Any) -> None:
    await hooks.check()
    primary = hooks.region("us-east-1")
    role_arn = f"arn:aws:iam::{primary['key_arn'].split(':')[4]}:role/ByokVaultKMSRole"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": role_arn}, "Action": "kms:*",
         "Resource": "*"}]}
    root("kms").put_key_policy(KeyId=kid(primary["key_arn"]), PolicyName="default",
                               Policy=json.dumps(policy))
    out = await hooks.check()
    assert out.state == "Unavailable"
    assert hooks.region("us-east-1")["findings"][0]["code"] == "KEY_ACCESS_DENIED"
    assert hooks.region("eu-west-1")["state"] == "Healthy"


async def test_one_replica_disabled_degrades_and_pauses_only_that_region(
        hooks: Any, root: Any, backup: Any) -> None:
    await hooks.check()
    root("kms", "eu-west-1").disable_key(KeyId=kid(hooks.region("eu-west-1")["key_arn"]))
    out = await hooks.check()
    assert out.state == "Degraded"
    states = {r["region"]: r["state"] for r in hooks.view()["regions"]}
    assert states == {"us-east-1": "Healthy", "us-west-2": "Healthy", "eu-west-1": "Unavailable"}
    assert "REPLICA_DISABLED" in await refused(backup, "eu-west-1")
    assert (await backup("us-east-1"))["status"] == "complete"
    assert (await backup("us-west-2"))["status"] == "complete"


async def test_account_gone_is_lost(hooks: Any, backup: Any, localaws: Any) -> None:
    made = await backup("us-east-1")
    await hooks.check()
    localaws.close_account("444455556666")
    out = await hooks.check()
    assert out.state == "Lost" and out.alert_id
    assert {r["findings"][0]["code"] for r in hooks.view()["regions"]} == {"ACCOUNT_LOST"}
    from control.catalog import backup_view
    assert backup_view(hooks.engine, hooks.tenant_id, made["id"])["status"] == \
        "irretrievable"


async def test_throttling_is_retried_without_a_false_alert(hooks: Any, localaws: Any) -> None:
    await hooks.check()
    # More throttles than botocore's own 5 attempts: the activity itself must be retried.
    localaws.inject_fault("kms", "DescribeKey", count=7, account="444455556666")
    out = await hooks.check()
    assert out.checked and out.state == "Healthy" and out.alert_id is None
    assert [f["count"] for f in localaws.faults()] == [0]
    assert hooks.alerts() == []


async def test_webhook_down_is_retried_and_every_attempt_recorded(hooks: Any, root: Any,
                                                                  webhook: Any) -> None:
    hooks.set_webhook(webhook.url)
    webhook.fail = 3
    await hooks.check()
    root("kms", "us-west-2").disable_key(KeyId=kid(hooks.region("us-west-2")["key_arn"]))
    out = await hooks.check()
    result = await hooks.delivered(out.alert_id)
    assert result.delivered and result.status == "delivered"
    attempts = hooks.deliveries(out.alert_id)
    assert [(d.attempt, d.status_code, d.ok) for d in attempts] == [
        (1, 503, False), (2, 503, False), (3, 503, False), (4, 204, True)]
    assert len(webhook.received) == 1
    headers, body = webhook.received[0]
    assert headers["X-Byok-Alert-Id"] == out.alert_id
    assert body["state"] == "Degraded" and body["findings"][0]["code"] == "REPLICA_DISABLED"
    assert "blast_radius" in body
    alert = hooks.alerts()[-1]
    assert alert.delivery_status == "delivered" and alert.delivery_attempts == 4
