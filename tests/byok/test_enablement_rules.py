"""Enablement preconditions: each refusal is specific and issues nothing."""

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import crud, enablement
from byok.db import session_scope
from byok.errors import ByokError, Conflict, InvalidInput, Unauthorized
from byok.models import EnableToken, KeyBinding, Wallet
from byok.settings import load_settings
from tests.connect_helpers import request_connection

ACCOUNT = "444455556666"


@pytest.fixture
def tenant_id(any_engine: Engine) -> str:
    with session_scope(any_engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id=ACCOUNT,
                             regions=["us-east-1", "us-west-2"])
        return t.id


def _issue(engine: Engine, tenant_id: str, account: str = ACCOUNT, irretrievable: bool = True,
           immutable: bool = True) -> enablement.Issued:
    settings = load_settings(home=Path("/nonexistent"))
    with session_scope(engine) as session:
        tenant = crud.get_tenant(session, ref=tenant_id)
        return enablement.issue(session, settings, tenant, account,
                                accept_irretrievable=irretrievable, accept_immutable=immutable,
                                actor="test")


def _nothing_issued(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return not session.exec(select(EnableToken)).all() and not session.exec(
            select(Wallet)).all()


@pytest.mark.parametrize(("kwargs", "field", "needle"), [
    ({"account": "12345678901"}, "account", "12 digits"),
    ({"account": "abcdefghijkl"}, "account", "12 digits"),
    ({"account": "777788889999"}, "account", "not connected"),
    ({"irretrievable": False}, "accept_irretrievable", "irretrievable"),
    ({"immutable": False}, "accept_immutable", "never be changed"),
])
def test_refusals(any_engine: Engine, tenant_id: str, kwargs: dict, field: str,
                  needle: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _issue(any_engine, tenant_id, **kwargs)
    assert info.value.field == field and needle in info.value.message
    assert _nothing_issued(any_engine)


def test_control_plane_region_must_be_connected(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        t = crud.create_tenant(session, name="west")
        request_connection(session, tenant=t, account_id=ACCOUNT, regions=["us-west-2"])
    with pytest.raises(InvalidInput, match="control-plane region us-east-1"):
        _issue(any_engine, t.id)
    assert _nothing_issued(any_engine)


def test_no_connection(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        t = crud.create_tenant(session, name="lonely")
    with pytest.raises(InvalidInput, match="connect at least one"):
        _issue(any_engine, t.id)


def test_issue_stores_only_hashes_and_refuses_a_second_while_waiting(
        any_engine: Engine, tenant_id: str) -> None:
    issued = _issue(any_engine, tenant_id)
    assert len(issued.token) == 36 and issued.token.isalnum()
    assert "ExternalId=" + issued.external_id in issued.deployment_url.replace("%3D", "=") or \
        issued.external_id in issued.deployment_url
    with session_scope(any_engine) as session:
        row = session.exec(select(EnableToken)).one()
        assert row.token_hash == enablement.hash_secret(issued.token)
        assert issued.token not in str(row.model_dump())
    with pytest.raises(Conflict, match="already waiting"):
        _issue(any_engine, tenant_id)


def test_enabled_tenant_is_refused_forever(any_engine: Engine, tenant_id: str) -> None:
    with session_scope(any_engine) as session:
        session.add(KeyBinding(tenant_id=tenant_id, generation=1, account_id=ACCOUNT,
                               role_arn="arn:aws:iam::444455556666:role/R", external_id="x" * 8,
                               key_arn="arn:aws:kms:us-east-1:444455556666:key/mrk-1",
                               primary_region="us-east-1", template_version=2))
    with pytest.raises(Conflict) as info:
        _issue(any_engine, tenant_id)
    assert info.value.code == "ALREADY_ENABLED"


def _payload(issued: enablement.Issued, **over: str) -> dict[str, str]:
    base = {"request_type": "Create", "token": issued.token, "account_native_id": ACCOUNT,
            "aws_region": "us-east-1", "role_arn": f"arn:aws:iam::{ACCOUNT}:role/ByokVaultKMSRole",
            "role_external_id": issued.external_id, "role_id": "AROA1",
            "multi_region_cmk_key_id": "mrk-0123", "created_multi_region_cmk": "true",
            "template_version": "2"}
    return base | over


@pytest.mark.parametrize(("over", "error", "needle"), [
    ({"token": "x" * 36}, Unauthorized, "unknown token"),
    ({"token": "short"}, Unauthorized, "malformed"),
    ({"account_native_id": "777788889999"}, Unauthorized, "issued for account"),
    ({"role_external_id": "short"}, InvalidInput, "ExternalId"),
    ({"role_external_id": "has space!"}, InvalidInput, "ExternalId"),
    ({"role_external_id": "a" * 129}, InvalidInput, "ExternalId"),
    ({"request_type": "Explode"}, InvalidInput, "request_type"),
    ({"replica_management": "both"}, InvalidInput, "service or tenant"),
])
def test_bad_callbacks_change_nothing(any_engine: Engine, tenant_id: str, over: dict,
                                      error: type[ByokError], needle: str) -> None:
    issued = _issue(any_engine, tenant_id)
    with pytest.raises(error) as info, session_scope(any_engine) as session:
        enablement.accept_callback(session, _payload(issued, **over))
    assert needle.lower() in info.value.message.lower()
    with session_scope(any_engine) as session:
        assert session.exec(select(EnableToken)).one().used_at is None


def test_callback_replay_is_idempotent_but_reuse_is_refused(any_engine: Engine,
                                                            tenant_id: str) -> None:
    issued = _issue(any_engine, tenant_id)
    with session_scope(any_engine) as session:
        _, cb, replayed = enablement.accept_callback(session, _payload(issued))
    assert not replayed and cb.multi_region_cmk_key_id == "mrk-0123"
    with session_scope(any_engine) as session:
        _, _, replayed = enablement.accept_callback(session, _payload(issued))
    assert replayed
    with pytest.raises(Unauthorized, match="already used"), session_scope(any_engine) as session:
        enablement.accept_callback(session, _payload(issued, multi_region_cmk_key_id="mrk-9"))


@pytest.mark.parametrize(("over", "expected"), [
    ({}, "service"),  # version 1 stacks and older version 2 stacks do not say
    ({"replica_management": "service"}, "service"),
    ({"replica_management": "tenant"}, "tenant"),
])
def test_callback_says_who_makes_the_replicas(any_engine: Engine, tenant_id: str, over: dict,
                                              expected: str) -> None:
    issued = _issue(any_engine, tenant_id)
    with session_scope(any_engine) as session:
        _, cb, _ = enablement.accept_callback(session, _payload(issued, **over))
    assert cb.replica_management == expected


def test_other_tenants_external_id_is_refused(any_engine: Engine, tenant_id: str) -> None:
    with session_scope(any_engine) as session:
        other = crud.create_tenant(session, name="other")
        request_connection(session, tenant=other, account_id="777788889999",
                             regions=["us-east-1"])
    other_issued = _issue(any_engine, other.id, account="777788889999")
    issued = _issue(any_engine, tenant_id)
    with pytest.raises(Conflict, match="another tenant"), session_scope(any_engine) as session:
        enablement.accept_callback(session, _payload(issued,
                                                     role_external_id=other_issued.external_id))


def test_tenant_typed_external_id_is_accepted_when_valid(any_engine: Engine,
                                                         tenant_id: str) -> None:
    issued = _issue(any_engine, tenant_id)
    with session_scope(any_engine) as session:
        enablement.accept_callback(session, _payload(issued, role_external_id="my-own-ext-id"))
    with session_scope(any_engine) as session:
        assert enablement.external_id_for(session, tenant_id) == "my-own-ext-id"
