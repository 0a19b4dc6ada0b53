"""Connecting to Temporal the same way from the worker, the CLI and the web app."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from byok.settings import Settings


async def connect(settings: Settings, *, runtime: Runtime | None = None,
                  interceptors: Sequence[Interceptor] = ()) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=pydantic_data_converter, runtime=runtime,
                                interceptors=interceptors)
