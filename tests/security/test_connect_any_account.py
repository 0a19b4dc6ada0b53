"""Attack: connect an AWS account the tenant does not control (the service's own, another
tenant's) and have s3/dynamodb/ebs backups read it. A connection must be proven by a stack
deployed in that account, and reads go through that tenant's role with its ExternalId."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import ActivityEnvironment

from activities.storage import FileStore
from activities.vault import VaultActivities
from byok import backups, crud
from byok.db import session_scope
from byok.errors import ByokError
from byok.messages import BackupInput
from byok.settings import Settings
from control.backups import run_backup
from tests.conftest import OTHER_ACCOUNT, SERVICE_ACCOUNT, TENANT_ACCOUNT
from tests.lazy import lazy
from web.app import create_app
from worker import key_cache

SECRET = b"the victim's data " * 10


def account_client(settings: Settings, account: str, name: str) -> Any:
    return boto3.Session(aws_access_key_id=account, aws_secret_access_key="local").client(
        name, region_name="us-east-1", endpoint_url=settings.aws_endpoint_url)


def victim_bucket(settings: Settings, account: str = TENANT_ACCOUNT) -> str:
    s3 = account_client(settings, account, "s3")
    s3.create_bucket(Bucket="victim-data")
    s3.put_object(Bucket="victim-data", Key="ledger.csv", Body=SECRET)
    return "s3://victim-data/"


@pytest.fixture
async def api(settings: Settings, engine: Engine) -> Any:
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://byok.test") as http:
        yield http


async def tenant_key(api: httpx.AsyncClient, settings: Settings, name: str) -> dict[str, str]:
    op = {"Authorization": f"Bearer {settings.operator_api_key}"}
    tid = (await api.post("/api/v1/tenants", json={"name": name}, headers=op)).json()["id"]
    key = (await api.post(f"/api/v1/tenants/{tid}/api-keys", json={"name": "t"},
                          headers=op)).json()["key"]
    return {"id": tid, "Authorization": f"Bearer {key}"}


async def test_the_services_own_account_can_never_be_connected(api: httpx.AsyncClient,
                                                               settings: Settings,
                                                               aws: Any) -> None:
    caller = await tenant_key(api, settings, "mallory")
    headers = {"Authorization": caller["Authorization"]}
    resp = await api.post("/api/v1/connections", headers=headers,
                          json={"account_id": SERVICE_ACCOUNT, "regions": ["us-east-1"]})
    assert resp.status_code == 422, resp.text
    body = resp.json()["error"]
    assert body["field"] == "account_id" and "own account" in body["message"]
    assert (await api.get("/api/v1/connections", headers=headers)).json() == []


async def test_an_unproven_connection_reads_nothing(api: httpx.AsyncClient, engine: Engine,
                                                    settings: Settings, temporal_env: Any,
                                                    worker: Any) -> None:
    caller = await tenant_key(api, settings, "mallory")
    headers = {"Authorization": caller["Authorization"]}
    resp = await api.post("/api/v1/connections", headers=headers,
                          json={"account_id": TENANT_ACCOUNT, "regions": ["us-east-1"]})
    assert resp.status_code == 201, resp.text
    source = victim_bucket(settings)
    with pytest.raises(ByokError) as info:
        await run_backup(engine, settings, lazy(temporal_env.client), tenant=caller["id"],
                         workload="s3", source=source, region="us-east-1", actor="mallory")
    assert info.value.code == "CONNECTION_NOT_VERIFIED"
    assert "deploy its connection stack" in info.value.message
    assert resp.json()["state"] == "pending" and resp.json()["token"]


async def test_tenant_b_gets_its_own_role_and_cannot_use_tenant_as(
        engine: Engine, settings: Settings, aws: Any, proven: dict[str, Any],
        tenant: str, temporal_env: Any, worker: Any) -> None:
    from byok import connections
    from tests.connect_helpers import prove_connection

    with session_scope(engine) as session:
        b = crud.create_tenant(session, name="mallory")
        b_id = b.id
        issued = connections.request(session, settings, tenant=b, account_id=TENANT_ACCOUNT,
                                     regions=["us-east-1"], actor="mallory")
        b_role, b_external = issued.connection.role_name, issued.connection.external_id
    assert proven["state"] == "verified"
    assert b_role != proven["role_name"] and b_external != proven["external_id"]
    # B's ExternalId opens nothing of A's: A's role trusts only A's ExternalId.
    with pytest.raises(ByokError) as refused:
        aws.assume(proven["role_arn"], b_external, fresh=True)
    assert refused.value.code == "ROLE_NOT_ASSUMABLE"
    source = victim_bucket(settings)
    with pytest.raises(ByokError) as info:
        await run_backup(engine, settings, lazy(temporal_env.client), tenant=b_id,
                         workload="s3", source=source, region="us-east-1", actor="mallory")
    assert info.value.code == "CONNECTION_NOT_VERIFIED"
    # B cannot prove the account by deploying the stack in an account B does control.
    with pytest.raises(ByokError, match="issued for account"):
        await prove_connection(engine, settings, aws, tenant_id=b_id, account_id=TENANT_ACCOUNT,
                               regions=["us-east-1"], deploy_account=OTHER_ACCOUNT)
    with session_scope(engine) as session:
        row = next(c for c in crud.connections(session, tenant_id=b_id))
        assert row.state == "failed" and "issued for account" in (row.error_message or "")


async def test_a_role_that_ignores_the_external_id_is_refused(engine: Engine, settings: Settings,
                                                              aws: Any, tenant: str) -> None:
    from byok import connection_template
    from tests.connect_helpers import prove_connection

    doc = connection_template.load_template()
    doc["Mappings"]["Service"]["Role"]["Arn"] = settings.service_role_arn
    doc["Mappings"]["Service"]["Topic"]["Arn"] = settings.callback_topic_arn
    doc["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].pop(
        "Condition")
    with pytest.raises(ByokError, match="without the ExternalId"):
        await prove_connection(engine, settings, aws, tenant_id=tenant,
                               account_id=TENANT_ACCOUNT, regions=["us-east-1"],
                               template_body=json.dumps(doc))
    with session_scope(engine) as session:
        row = crud.connections(session, tenant_id=tenant)[0]
        assert row.state == "failed" and "ExternalId" in (row.error_message or "")


def test_the_worker_rechecks_the_account_it_is_handed(engine: Engine, settings: Settings,
                                                      aws: Any, tenant: str,
                                                      proven: dict[str, Any]) -> None:
    """A forged plan (another account, or a tenant with no verified connection) is refused
    by the activity itself, from the database, before anything is read."""
    from byok import connections

    victim_bucket(settings, OTHER_ACCOUNT)
    vault = VaultActivities(aws, engine, settings, FileStore(settings.vault_dir),
                            key_cache(settings))
    with session_scope(engine) as session:
        plan = backups.plan_backup(session, settings, BackupInput(
            tenant, backups.new_id("bk"), "s3", "s3://victim-data/", "us-east-1"))
        b = crud.create_tenant(session, name="mallory")
        connections.request(session, settings, tenant=b, account_id=OTHER_ACCOUNT,
                            regions=["us-east-1"], actor="mallory")
    plan.source_account = OTHER_ACCOUNT
    # The activity refuses a plan that is not the catalog's before it opens anything...
    with pytest.raises(Exception, match="no pending catalog entry"):
        ActivityEnvironment().run(vault.write_backup, plan)
    # ...and the source's credentials are looked up from the database, not from the plan.
    with pytest.raises(Exception, match="names account"):
        vault.source_client(plan)("s3")
    plan.tenant_id, plan.source_account = b.id, OTHER_ACCOUNT
    with pytest.raises(Exception, match="not verified"):
        vault.source_client(plan)("s3")
