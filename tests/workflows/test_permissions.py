"""Every permission is necessary: remove one statement or action of the tenant role (a modified
template) or of the service role's policy, and the exact step that needs it fails with
AccessDenied under localaws's strict evaluation. Sufficiency is the rest of the suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine

from activities.storage import S3Store
from byok import cfn
from byok.errors import ByokError
from byok.settings import Settings
from control.backups import run_backup
from control.checks import check_health
from control.consumer import CallbackConsumer
from control.enablement import start_migration
from control.restores import run_restore
from tests.lazy import lazy
from tests.workflows.enable_helpers import in_thread, result, until_delivered


def template_without(settings: Settings, sid: str, action: str | None = None) -> str:
    """The v2 template with one statement (or one action of it) taken out of the role."""
    doc = cfn.parse_template(cfn.render_template(2, settings.service_role_arn,
                                                 settings.callback_topic_arn))
    statements = doc["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"]
    # A statement only for ReplicaManagement=service sits in an Fn::If (its first branch).
    [found] = [s for s in statements if s.get("Sid") == sid
               or s.get("Fn::If", [None, {}])[1].get("Sid") == sid]
    statement = found["Fn::If"][1] if "Fn::If" in found else found
    if action is None:
        statements.remove(found)
    else:
        granted = statement["Action"] if isinstance(statement["Action"], list) else \
            [statement["Action"]]
        assert action in granted
        statement["Action"] = [a for a in granted if a != action]
    return json.dumps(doc)


async def _enable_with(temporal_env: Any, engine: Engine, enable: Any, deploy: Any,
                       tenant: str, body: str = "") -> Any:
    """The stack reports through the queue (the `consumer` fixture runs) and the workflow
    answers it; the stack's own outcome follows the workflow's."""
    issued = await enable(tenant)
    await deploy(issued, template_body=body)
    # Until the report is in the run: skipped time would otherwise expire the token first.
    await until_delivered(engine, issued.token)
    return await result(temporal_env, issued.workflow_id)


@pytest.mark.parametrize("action", ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"])
@pytest.mark.usefixtures("consumer")
async def test_each_key_action_is_needed_to_verify_the_key(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, action: str) -> None:
    view = await _enable_with(temporal_env, engine, enable, deploy, tenant,
                              template_without(settings, "UseTheKey", action))
    assert view.state == "Error" and view.error_code == "KEY_ACCESS_DENIED", view
    assert f"access denied on {action.split(':')[1]} " in (view.error_message or "")


@pytest.mark.parametrize("sid", ["ReplicateTheKey", "CreateReplicasOnly"])
@pytest.mark.usefixtures("consumer")
async def test_replication_needs_replicate_key_and_create_key(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, sid: str) -> None:
    view = await _enable_with(temporal_env, engine, enable, deploy, tenant,
                              template_without(settings, sid))
    assert set(view.key_errors) == {"us-west-2", "eu-west-1"}, view
    for error in view.key_errors.values():
        assert error["code"] == "KEY_ACCESS_DENIED" and "ReplicateKey" in error["message"]


@pytest.mark.usefixtures("consumer")
async def test_the_unedited_template_enables_in_every_region(
        temporal_env: Any, engine: Engine, tenant: str, enable: Any, deploy: Any) -> None:
    view = await _enable_with(temporal_env, engine, enable, deploy, tenant)
    assert view.state == "Enabled" and not view.key_errors, view
    assert sorted(view.replica_key_arns) == ["eu-west-1", "us-west-2"]


def _service_policy_without(aws: Any, settings: Settings, sid: str,
                            action: str | None = None) -> None:
    """The role policy the service stack deployed (service.yaml), less one statement or one
    action of it: the statements exist only in the template."""
    iam = aws.base("iam")
    name = settings.service_role_name
    document = iam.get_role_policy(RoleName=name, PolicyName="ByokVaultService")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    [statement] = [s for s in document["Statement"] if s.get("Sid") == sid]
    if action is None:
        document["Statement"].remove(statement)
    else:
        assert action in statement["Action"], (sid, action)
        statement["Action"] = [a for a in statement["Action"] if a != action]
    iam.put_role_policy(RoleName=name, PolicyName="ByokVaultService",
                        PolicyDocument=json.dumps(document))


@pytest.mark.usefixtures("consumer")
async def test_the_service_role_needs_assume_tenant_roles(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, enable: Any,
        deploy: Any, aws: Any) -> None:
    _service_policy_without(aws, settings, "AssumeTenantRoles")
    view = await _enable_with(temporal_env, engine, enable, deploy, tenant)
    assert view.state == "Error" and view.error_code == "ROLE_NOT_ASSUMABLE", view
    assert "AccessDenied" in (view.error_message or "")


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
async def test_the_service_role_needs_its_default_keys_for_backups_and_restores(
        temporal_env: Any, engine: Engine, settings: Settings, tenant: str, worker: Any,
        aws: Any, tmp_path: Path, action: str) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"default-key data" * 100)

    async def backup() -> dict[str, Any]:
        return await run_backup(engine, settings, lazy(temporal_env.client),
                                  tenant=tenant, workload="vmware_vm", source=f"file://{src}",
                                  region=None, actor="test")

    made = await backup() if action == "kms:Decrypt" else None
    _service_policy_without(aws, settings, "UseDefaultKeys", action)
    with pytest.raises(ByokError) as caught:
        if made is None:
            await backup()
        else:
            await run_restore(engine, settings, lazy(temporal_env.client),
                                tenant=tenant, backup_id=made["id"],
                                target=str(tmp_path / "out"), force=False, actor="test")
    assert "access denied" in str(caught.value).lower(), caught.value


def _code(exc: BaseException) -> str:
    assert isinstance(exc, ClientError), exc
    return str(exc.response["Error"]["Code"])


@pytest.mark.parametrize("action", ["sqs:GetQueueUrl", "sqs:ReceiveMessage",
                                    "sqs:DeleteMessage"])
async def test_the_service_role_needs_the_callback_queue(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, action: str) -> None:
    # A message that is no callback: the consumer drops it (DeleteMessage).
    aws.base("sns").publish(TopicArn=settings.callback_topic_arn, Message="not a callback")
    _service_policy_without(aws, settings, "ReadCallbacks", action)
    consumer = CallbackConsumer(temporal_env.client, engine, settings, aws.service("sqs"))
    with pytest.raises(ClientError) as caught:
        await consumer.poll_once(wait_seconds=1)
    assert _code(caught.value) == "AccessDenied"
    assert f"{action} " in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(("sid", "action", "step"), [
    ("ReadWriteVault", "s3:PutObject", "write"),
    ("ReadWriteVault", "s3:GetObject", "read"),
    ("ReadWriteVault", "s3:DeleteObject", "delete"),
    ("ReadWriteVault", "s3:AbortMultipartUpload", "abort"),
    ("ListVault", "s3:ListBucketMultipartUploads", "commit"),
])
async def test_the_service_role_needs_the_vault_bucket(
        settings: Settings, aws: Any, sid: str, action: str | None, step: str) -> None:
    store = S3Store(aws.service("s3"), settings.vault_bucket)
    key = f"t/{step}.byok"
    if step in ("read", "delete"):
        w = store.writer(key)
        w.write(b"x")
        w.commit()
    pending = store.writer(key) if step in ("abort", "commit") else None
    _service_policy_without(aws, settings, sid, action)

    def run() -> None:
        if step == "write":
            store.writer(key)
        elif step == "read":
            store.reader(key)
        elif step == "delete":
            store.delete(key)
        elif pending is not None and step == "abort":
            pending.abort()
        elif pending is not None:
            pending.write(b"y")
            pending.commit()

    with pytest.raises(ClientError) as caught:
        await in_thread(run)
    assert _code(caught.value) == "AccessDenied"


@pytest.mark.parametrize("action", ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"])
async def test_legacy_keys_stay_open_and_checked_only_through_open_legacy_backups(
        temporal_env: Any, engine: Engine, settings: Settings, consumer: Any, aws: Any,
        tmp_path: Path, action: str) -> None:
    from starter.customer import deploy_stack
    from starter.legacy import create_legacy_tenant
    from tests.conftest import TENANT_ACCOUNT
    from tests.workflows.conftest import REGIONS
    from workflows.migrate_byok import MigrateByokWorkflow

    legacy = await in_thread(create_legacy_tenant, settings, engine, name="oldco",
                             account_id=TENANT_ACCOUNT, regions=REGIONS)
    src = tmp_path / "old.bin"
    src.write_bytes(b"legacy era" * 500)
    client = temporal_env.client
    old = await run_backup(engine, settings, lazy(client),
                             tenant=legacy.tenant_id, workload="vmware_vm",
                             source=f"file://{src}", region=None, actor="test")
    issued = await start_migration(engine, settings, lazy(client), tenant=legacy.tenant_id,
                                   actor="test")
    # The updated stack reports through the queue; it completes on the workflow's answer.
    await in_thread(deploy_stack, settings, account_id=TENANT_ACCOUNT,
                    token=issued["token"], external_id=issued["external_id"], upgrade=True,
                    template_body=template_without(settings, "OpenLegacyBackups", action))
    view = await client.get_workflow_handle_for(
        MigrateByokWorkflow.run, f"migrate-byok-{legacy.tenant_id}").result()
    assert view.state == "Enabled", view
    if action == "kms:Decrypt":  # restoring a backup made before the upgrade
        with pytest.raises(ByokError) as caught:
            await run_restore(engine, settings, lazy(client),
                                tenant=legacy.tenant_id, backup_id=old["id"],
                                target=str(tmp_path / "out"), force=False, actor="test")
        assert "access denied" in str(caught.value).lower(), caught.value
        return
    if action == "kms:DescribeKey":
        # A healthy key is checked by its round trip alone; DescribeKey is what names a
        # failing one. Without it a disabled legacy key is only "access denied".
        from starter.customer import tenant_session

        kms = tenant_session(TENANT_ACCOUNT).client(
            "kms", region_name=settings.control_plane_region,
            endpoint_url=settings.aws_endpoint_url)
        await in_thread(kms.disable_key, KeyId=legacy.key_arn)
    health = await check_health(engine, settings, lazy(client), legacy.tenant_id, "test")
    legacy_key = json.dumps(health, default=str)
    assert health["state"] != "Healthy", health
    assert "ACCESS_DENIED" in legacy_key and legacy.key_arn in legacy_key, health
    assert "KEY_DISABLED" not in legacy_key, health
