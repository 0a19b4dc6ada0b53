"""Connecting to Temporal the same way from the worker, the CLI, the consumer and the web app:
payloads encrypted by the codec, and mTLS when BYOK_TEMPORAL_TLS_* name the files."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from byok.codec import data_converter
from byok.settings import Settings
from byok.tls import tls_files


def tls_config(settings: Settings) -> TLSConfig | bool:
    """False = plaintext (the embedded stack); the files are read at connect time."""
    files = tls_files(settings)
    if files is None:
        return False
    return TLSConfig(server_root_ca_cert=files.ca, client_cert=files.cert,
                     client_private_key=files.key, domain=files.server_name)


async def connect(settings: Settings, *, runtime: Runtime | None = None,
                  interceptors: Sequence[Interceptor] = ()) -> Client:
    """Payloads cross Temporal encrypted (BYOK_PAYLOAD_KEYS): the server and anyone reading
    its database or UI without the codec see ciphertext only."""
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=data_converter(settings.payload_keys),
                                tls=tls_config(settings), runtime=runtime,
                                interceptors=interceptors)


TENANT_ID = SearchAttributeKey.for_keyword("TenantId")


def tenant_attributes(tenant_id: str) -> TypedSearchAttributes:
    """Set at start, so the Temporal UI filters every run by tenant from its first moment."""
    return TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)])
