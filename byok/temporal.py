"""Connecting to Temporal the same way from the worker, the CLI and the web app."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.runtime import Runtime

from byok.codec import data_converter
from byok.settings import Settings


async def connect(settings: Settings, *, runtime: Runtime | None = None,
                  interceptors: Sequence[Interceptor] = ()) -> Client:
    """Payloads cross Temporal encrypted (BYOK_PAYLOAD_KEYS): the server and anyone reading
    its database or UI without the codec see ciphertext only."""
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=data_converter(settings.payload_keys),
                                runtime=runtime, interceptors=interceptors)


TENANT_ID = SearchAttributeKey.for_keyword("TenantId")


def tenant_attributes(tenant_id: str) -> TypedSearchAttributes:
    """Set at start, so the Temporal UI filters every run by tenant from its first moment."""
    return TypedSearchAttributes([SearchAttributePair(TENANT_ID, tenant_id)])
