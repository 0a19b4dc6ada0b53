"""The service's default KMS key of a region, for tenants without BYOK (made on first use)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from byok.aws import AwsClients, error_code
from byok.settings import Settings


def ensure_default_key(aws: AwsClients, settings: Settings, region: str) -> str:
    """The service's default key in `region` (for tenants without BYOK); returns its ARN."""
    kms = aws.base("kms", region)
    try:
        return str(kms.describe_key(KeyId=settings.default_key_alias)["KeyMetadata"]["Arn"])
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
    meta = kms.create_key(Description="byok-vault default key")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=meta["KeyId"])
    kms.create_alias(AliasName=settings.default_key_alias, TargetKeyId=meta["KeyId"])
    return str(meta["Arn"])
