"""The KMS side of the envelope's KeyProvider: the service's default keys through the
service role, a tenant's keys through the tenant's role (with its ExternalId)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError
from sqlalchemy.engine import Engine

from byok import keyring
from byok.aws import AwsClients, map_error
from byok.db import session_scope
from byok.envelope import DataKeyMaterial
from byok.errors import KeyUnusable
from byok.settings import Settings


class KmsKeyProvider:
    """One tenant's view of KMS; every call is counted (the frugality benchmark reads it)."""

    def __init__(self, aws: AwsClients, engine: Engine, settings: Settings, tenant_id: str):
        self.aws, self.engine, self.settings, self.tenant_id = aws, engine, settings, tenant_id
        self.calls = 0

    def _client(self, key_arn: str) -> Any:
        parts = key_arn.split(":")
        if len(parts) < 6 or parts[2] != "kms":
            raise KeyUnusable(f"{key_arn!r} is not a KMS key ARN", code="KEY_INVALID_ID")
        region, account = parts[3], parts[4]
        if account == self.settings.service_account_id:
            return self.aws.service("kms", region)
        with session_scope(self.engine) as session:
            binding = keyring.binding_for_key(session, self.tenant_id, key_arn)
            if binding is None:
                raise KeyUnusable(f"key {key_arn} is not one of this tenant's keys",
                                  code="KEY_NOT_IN_KEYRING")
            role, external_id = binding.role_arn, binding.external_id
        return self.aws.tenant("kms", region, role, external_id)

    def generate(self, key_arn: str, context: Mapping[str, str]) -> DataKeyMaterial:
        kms = self._client(key_arn)
        self.calls += 1
        try:
            out = kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256",
                                        EncryptionContext=dict(context))
        except ClientError as exc:
            raise map_error(exc, key_id=key_arn) from None
        # Copied at once; the response's immutable bytes are dropped with it (docs/FORMAT.md).
        return DataKeyMaterial(bytearray(out.pop("Plaintext")), out["CiphertextBlob"],
                               out["KeyId"])

    def unwrap(self, wrapped: bytes, key_arn: str, context: Mapping[str, str]) -> bytearray:
        kms = self._client(key_arn)
        self.calls += 1
        try:
            out = kms.decrypt(CiphertextBlob=wrapped, KeyId=key_arn,
                              EncryptionContext=dict(context))
        except ClientError as exc:
            raise map_error(exc, key_id=key_arn) from None
        return bytearray(out.pop("Plaintext"))
