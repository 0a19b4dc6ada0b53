"""Console: AWS accounts — connect shows the stack to deploy once, states are listed, bad
input is refused with its reason and writes nothing, another tenant's page is not found."""

from __future__ import annotations

import httpx

from tests.conftest import OTHER_ACCOUNT, SERVICE_ACCOUNT, TENANT_ACCOUNT
from tests.web.conftest import NewTenant
from tests.web.test_console import CSRF, sign_in


async def test_connect_shows_the_stack_once_and_lists_the_states(
        client: httpx.AsyncClient, new_tenant: NewTenant) -> None:
    acme = await new_tenant("acme")
    csrf = await sign_in(client, acme)
    page = await client.get(f"/t/{acme.id}/connections")
    assert page.status_code == 200 and TENANT_ACCOUNT in page.text and "Pending" in page.text
    resp = await client.post(f"/t/{acme.id}/connections", data={
        "account_id": OTHER_ACCOUNT, "regions": "us-east-1, eu-west-1", "csrf_token": csrf})
    assert resp.status_code == 200, resp.text
    assert "quickcreate" in resp.text and "shown only now" in resp.text
    assert f"ByokVaultConnection-{acme.id}" in resp.text
    again = await client.get(f"/t/{acme.id}/connections")
    assert OTHER_ACCOUNT in again.text and "shown only now" not in again.text


async def test_bad_input_and_forged_forms_change_nothing(
        client: httpx.AsyncClient, new_tenant: NewTenant) -> None:
    acme, other = await new_tenant("acme"), await new_tenant("globex")
    csrf = await sign_in(client, acme)
    own = await client.post(f"/t/{acme.id}/connections", data={
        "account_id": SERVICE_ACCOUNT, "regions": "us-east-1", "csrf_token": csrf})
    assert own.status_code == 422 and "own account" in own.text
    forged = await client.post(f"/t/{acme.id}/connections", data={
        "account_id": OTHER_ACCOUNT, "regions": "us-east-1", "csrf_token": "forged"})
    assert forged.status_code == 403
    page = await client.get(f"/t/{acme.id}/connections")
    assert SERVICE_ACCOUNT not in page.text and OTHER_ACCOUNT not in page.text
    assert CSRF.findall(page.text)
    assert (await client.get(f"/t/{other.id}/connections")).status_code == 404
