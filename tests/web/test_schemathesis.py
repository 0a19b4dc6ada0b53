"""schemathesis against the live app's OpenAPI: no 5xx, responses match their schemas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case

from tests.web.conftest import LiveServer, create_tenant

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = 50  # per operation and mode: the whole run stays around a minute


def fuzz(operation: Any, mode: GenerationMode, base_url: str,
         headers: dict[str, str]) -> Callable[[], None]:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
    return check


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid-input", "invalid-input"])
async def test_every_operation_conforms(live_server: LiveServer, mode: GenerationMode) -> None:
    operator_key = live_server.settings.operator_api_key
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        tenant = await create_tenant(http, {"Authorization": f"Bearer {operator_key}"}, "fuzz")
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    failures: dict[str, str] = {}
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here, as it should
        # Operator operations get the operator key, so their bodies are exercised too.
        key = operator_key if "operator" in (operation.tags or []) else tenant.key
        headers = {"Authorization": f"Bearer {key}"}

        count += 1
        try:
            # Sync hypothesis calls from this async test are fine: the app runs in its thread.
            fuzz(operation, mode, live_server.url, headers)()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # no input to get wrong
        except Exception as exc:  # noqa: BLE001 - report every operation, not only the first
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert count >= 20, f"only {count} operations in the OpenAPI document"
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
