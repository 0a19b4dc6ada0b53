"""Seed BYOK tenants fast (keys and roles on localaws as each tenant, rows in the DB)."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from sqlalchemy.engine import Engine

from byok.db import session_scope
from byok.models import AwsConnection, KeyBinding, Tenant, Wallet
from byok.settings import Settings
from starter.customer import tenant_session

REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


def account_id(n: int) -> str:
    return f"5{n:011d}"


_clients: dict[tuple[str, str, str, str], Any] = {}
_lock = threading.Lock()


def _client(settings: Settings, account: str, name: str, region: str = "us-east-1") -> Any:
    """Cached per account: a new boto3 session and client cost more than the seeding itself."""
    key = (settings.aws_endpoint_url, account, name, region)
    with _lock:
        if key not in _clients:
            _clients[key] = tenant_session(account).client(
                name, region_name=region, endpoint_url=settings.aws_endpoint_url)
        return _clients[key]


def seed_aws(settings: Settings, account: str, external_id: str,
             role_name: str = "ByokVaultKMSRole") -> tuple[str, str, dict[str, str]]:
    """As the tenant: a multi-region key, its replicas and a role only we can assume."""
    primary, *others = REGIONS
    kms = _client(settings, account, "kms", primary)
    key = kms.create_key(MultiRegion=True, Description="seeded byok key")["KeyMetadata"]
    replicas = {r: kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=r)[
        "ReplicaKeyMetadata"]["Arn"] for r in others}
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": settings.service_role_arn},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]}
    iam = _client(settings, account, "iam")
    role = iam.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # What the template's role may do with the key (health checks use exactly this).
    use = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": f"arn:aws:kms:*:{account}:key/{key['KeyId']}"}]}
    iam.put_role_policy(RoleName=role_name, PolicyName="ByokVaultKeyAccess",
                        PolicyDocument=json.dumps(use))
    return key["Arn"], role, replicas


def seed_tenant(engine: Engine, settings: Settings, n: int, prefix: str = "sweep",
                accounts: int = 0) -> str:
    """Tenant n in its own account, or with `accounts`, in account n % accounts with a role
    of its own (localaws builds each new account's IAM state slowly: benchmarks share)."""
    external_id = f"ext-{secrets.token_hex(8)}"
    if accounts:
        account, role_name = account_id(n % accounts), f"ByokVaultKMSRole-{n}"
    else:
        account, role_name = account_id(n), "ByokVaultKMSRole"
    key_arn, role_arn, replicas = seed_aws(settings, account, external_id, role_name)
    tenant_id = f"{prefix}-{n:06d}"
    with session_scope(engine) as session:
        session.add(Tenant(id=tenant_id, name=tenant_id))
        session.flush()
        session.add(AwsConnection(tenant_id=tenant_id, account_id=account, regions=REGIONS))
        session.add(Wallet(tenant_id=tenant_id, state="Enabled", account_native_id=account,
                           role_arn=role_arn, external_id=external_id, key_arn=key_arn,
                           replica_key_arns=replicas, installed_regions=REGIONS))
        session.add(KeyBinding(tenant_id=tenant_id, generation=1, account_id=account,
                               role_arn=role_arn, external_id=external_id, key_arn=key_arn,
                               primary_region=REGIONS[0], replica_key_arns=replicas,
                               template_version=2))
    return tenant_id
