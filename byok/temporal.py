"""Connecting to Temporal the same way from the worker, the CLI and the web app."""

from __future__ import annotations

from temporalio.client import Client

from byok.codec import data_converter
from byok.settings import Settings


async def connect(settings: Settings) -> Client:
    """Payloads cross Temporal encrypted (BYOK_PAYLOAD_KEYS): the server and anyone reading
    its database or UI without the codec see ciphertext only."""
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=data_converter(settings.payload_keys))
