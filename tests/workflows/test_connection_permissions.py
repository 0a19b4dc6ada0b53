"""Every permission of the connection role is necessary: take one action out of the role
(the tenant's edit of byok-connection.yaml) and the backup that needs it fails, refused by
localaws's strict evaluation. Sufficiency: test_backup_restore.py reads every AWS source
through the unedited template."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import boto3
import pytest
from sqlalchemy.engine import Engine

from byok import connection_template
from byok.errors import ByokError
from byok.settings import Settings
from control.backups import run_backup
from tests.conftest import TENANT_ACCOUNT
from tests.connect_helpers import prove_connection
from tests.lazy import lazy
from tests.workflows.conftest import REGIONS


def template_without(settings: Settings, action: str) -> str:
    doc = connection_template.load_template()
    doc["Mappings"]["Service"] = {"Role": {"Arn": settings.service_role_arn},
                                  "Topic": {"Arn": settings.callback_topic_arn}}
    statements = doc["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"]
    for stmt in statements:
        granted = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        if action in granted:
            stmt["Action"] = [a for a in granted if a != action]
            if not stmt["Action"]:
                statements.remove(stmt)
            return json.dumps(doc)
    raise AssertionError(f"{action} is not in the connection role")


def client(settings: Settings, name: str) -> Any:
    return boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        name, region_name="us-east-1", endpoint_url=settings.aws_endpoint_url)


def s3_source(settings: Settings) -> tuple[str, str]:
    s3 = client(settings, "s3")
    s3.create_bucket(Bucket="acme-data")
    s3.put_object(Bucket="acme-data", Key="mail/1.eml", Body=b"hello")
    return "s3", "s3://acme-data/mail/"


def dynamodb_source(settings: Settings) -> tuple[str, str]:
    ddb = client(settings, "dynamodb")
    ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.put_item(TableName="orders", Item={"id": {"S": "o1"}})
    return "dynamodb", "dynamodb://orders"


def ebs_source(settings: Settings) -> tuple[str, str]:
    ebs = client(settings, "ebs")
    snap = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    data = b"\x01" * 524288
    ebs.put_snapshot_block(SnapshotId=snap, BlockIndex=0, BlockData=io.BytesIO(data),
                           DataLength=len(data), ChecksumAlgorithm="SHA256",
                           Checksum=base64.b64encode(hashlib.sha256(data).digest()).decode())
    ebs.complete_snapshot(SnapshotId=snap, ChangedBlocksCount=1)
    return "ebs", f"ebs://{snap}"


# The first call of each source is a probe: refused, the source is reported unreadable.
@pytest.mark.parametrize(("action", "source", "code"), [
    ("s3:ListBucket", s3_source, "NOT_FOUND"), ("s3:GetObject", s3_source, "SOURCE_ACCESS_DENIED"),
    ("dynamodb:DescribeTable", dynamodb_source, "NOT_FOUND"),
    ("dynamodb:Scan", dynamodb_source, "SOURCE_ACCESS_DENIED"),
    ("ebs:ListSnapshotBlocks", ebs_source, "NOT_FOUND"),
    ("ebs:GetSnapshotBlock", ebs_source, "SOURCE_ACCESS_DENIED"),
])
async def test_each_action_of_the_connection_role_is_needed(
        temporal_env: Any, engine: Engine, settings: Settings, aws: Any, worker: Any,
        tenant: str, action: str, source: Any, code: str) -> None:
    await prove_connection(engine, settings, aws, tenant_id=tenant, account_id=TENANT_ACCOUNT,
                           regions=REGIONS, template_body=template_without(settings, action))
    workload, url = source(settings)
    with pytest.raises(ByokError) as caught:
        await run_backup(engine, settings, lazy(temporal_env.client), tenant=tenant,
                         workload=workload, source=url, region="us-east-1", actor="test")
    assert caught.value.code == code, caught.value
    if code == "SOURCE_ACCESS_DENIED":
        assert f"access denied on {action.split(':')[1]}:" in caught.value.message
