"""BackupWorkflow and RestoreWorkflow against localaws: every workload, the right key."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy.engine import Engine

from byok.errors import ByokError, Conflict, InvalidInput
from byok.settings import Settings
from byok.workloads import Workload
from control.backups import run_backup
from control.catalog import list_backups
from control.restores import run_restore
from tests.conftest import TENANT_ACCOUNT
from tests.lazy import lazy


def tenant_client(settings: Settings, name: str, region: str = "us-east-1") -> Any:
    return boto3.Session(aws_access_key_id=TENANT_ACCOUNT, aws_secret_access_key="local").client(
        name, region_name=region, endpoint_url=settings.aws_endpoint_url)


@pytest.fixture
def run(temporal_env: Any, engine: Engine, settings: Settings, worker: Any, tenant: str) -> Any:
    class Runner:
        async def backup(self, workload: str, source: str, region: str | None = None) -> dict:
            return await run_backup(engine, settings, lazy(temporal_env.client),
                                    tenant=tenant,
                                    workload=workload, source=source, region=region,
                                    actor="test")

        async def restore(self, backup_id: str, target: Path, force: bool = False) -> Any:
            return await run_restore(engine, settings, lazy(temporal_env.client), tenant=tenant,
                                     backup_id=backup_id, target=str(target), force=force,
                                     actor="test")
    return Runner()


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return f"file://{path}"


FILE_WORKLOADS = [w for w in Workload if w not in (Workload.S3, Workload.DYNAMODB)]


@pytest.mark.parametrize("workload", FILE_WORKLOADS)
async def test_file_sourced_workloads_round_trip(run: Any, tmp_path: Path,
                                                 workload: Workload) -> None:
    data = bytes(range(256)) * 5000 + workload.value.encode()  # > 1 frame
    src = _file(tmp_path, "src.bin", data)
    made = await run.backup(workload.value, src)
    assert made["status"] == "complete" and made["workload"] == workload.value
    assert made["key_kind"] == "default" and made["plaintext_size"] == len(data)
    out = tmp_path / "restored.bin"
    await run.restore(made["id"], out)
    assert out.read_bytes() == data


async def test_s3_prefix_round_trips_as_a_tar(run: Any, settings: Settings, proven: Any,
                                              tmp_path: Path) -> None:
    s3 = tenant_client(settings, "s3")
    s3.create_bucket(Bucket="acme-data")
    objects = {f"mail/{i}.eml": f"message {i}".encode() * (i + 1) for i in range(5)}
    for key, body in objects.items():
        s3.put_object(Bucket="acme-data", Key=key, Body=body)
    s3.put_object(Bucket="acme-data", Key="other/skip.txt", Body=b"not in prefix")
    made = await run.backup("s3", "s3://acme-data/mail/")
    out = tmp_path / "mail.tar"
    await run.restore(made["id"], out)
    with tarfile.open(out) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert got == objects


async def test_dynamodb_table_round_trips(run: Any, settings: Settings, proven: Any,
                                          tmp_path: Path) -> None:
    ddb = tenant_client(settings, "dynamodb")
    ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    for i in range(20):
        ddb.put_item(TableName="orders", Item={"id": {"S": f"o{i}"}, "n": {"N": str(i)}})
    made = await run.backup("dynamodb", "dynamodb://orders")
    out = tmp_path / "orders.jsonl"
    await run.restore(made["id"], out)
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(int(i["n"]["N"]) for i in items) == list(range(20))


async def test_ebs_snapshot_round_trips(run: Any, settings: Settings, proven: Any,
                                        tmp_path: Path) -> None:
    ebs = tenant_client(settings, "ebs")
    snap = ebs.start_snapshot(VolumeSize=1)["SnapshotId"]
    blocks = {0: b"\x01" * 524288, 7: b"\x07" * 524288}
    for index, data in blocks.items():
        import base64
        import hashlib
        ebs.put_snapshot_block(SnapshotId=snap, BlockIndex=index, BlockData=io.BytesIO(data),
                               DataLength=len(data), Checksum=base64.b64encode(
                                   hashlib.sha256(data).digest()).decode(),
                               ChecksumAlgorithm="SHA256")
    ebs.complete_snapshot(SnapshotId=snap, ChangedBlocksCount=len(blocks))
    made = await run.backup("ebs", f"ebs://{snap}")
    out = tmp_path / "disk.tar"
    await run.restore(made["id"], out)
    with tarfile.open(out) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert got == {f"block-{i:010d}": d for i, d in blocks.items()}


async def test_byok_keys_and_pre_enablement_backups(run: Any, enabled: Any, tenant: str,
                                                    tmp_path: Path) -> None:
    before = await run.backup("m365", _file(tmp_path, "a", b"before BYOK" * 1000))
    view = await enabled(tenant)
    after = await run.backup("m365", _file(tmp_path, "b", b"after BYOK" * 1000))
    west = await run.backup("rds", _file(tmp_path, "c", b"replica region" * 1000), "us-west-2")

    assert before["key_kind"] == "default" and ":111122223333:" in before["key_arn"]
    assert after["key_kind"] == "byok" and after["key_arn"] == view.key_arn
    assert west["key_kind"] == "byok" and west["key_arn"] == view.replica_key_arns["us-west-2"]
    # Nothing was re-encrypted, and all three restore after enablement.
    for made, data in ((before, b"before BYOK" * 1000), (after, b"after BYOK" * 1000),
                       (west, b"replica region" * 1000)):
        out = tmp_path / f"{made['id']}.out"
        await run.restore(made["id"], out)
        assert out.read_bytes() == data


async def test_disabled_byok_key_fails_without_fallback(run: Any, enabled: Any, tenant: str,
                                                        settings: Settings, engine: Engine,
                                                        tmp_path: Path) -> None:
    view = await enabled(tenant)
    tenant_client(settings, "kms").disable_key(KeyId=view.key_arn.rsplit("/", 1)[1])
    with pytest.raises(ByokError) as info:
        await run.backup("ec2", _file(tmp_path, "x", b"data"))
    assert info.value.code == "KEY_DISABLED"
    assert "enable it" in info.value.message
    [row] = list_backups(engine, tenant)
    assert row["status"] == "failed" and row["key_kind"] == "byok"
    assert row["key_arn"] == view.key_arn  # never the service's default key
    assert not list((settings.vault_dir / tenant).glob("*.byok"))


async def test_bad_requests_are_refused_before_anything_runs(run: Any, proven: Any,
                                                             tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown workload"):
        await run.backup("floppy", _file(tmp_path, "a", b"x"))
    with pytest.raises(ByokError, match="does not exist") as info:
        await run.backup("ec2", f"file://{tmp_path / 'nope'}")
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(ByokError, match="does not exist"):
        await run.backup("s3", "s3://no-such-bucket/x")
    with pytest.raises(InvalidInput, match="not connected"):
        await run.backup("ec2", _file(tmp_path, "b", b"x"), "ap-south-1")
    made = await run.backup("ec2", _file(tmp_path, "c", b"x" * 10))
    target = tmp_path / "exists"
    target.write_bytes(b"keep me")
    with pytest.raises(Conflict, match="already exists"):
        await run.restore(made["id"], target)
    assert target.read_bytes() == b"keep me"
    await run.restore(made["id"], target, force=True)
    assert target.read_bytes() == b"x" * 10
