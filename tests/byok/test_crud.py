"""Tenants and connections: bad input is refused with a clear error and writes nothing."""

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from byok import crud
from byok.db import session_scope
from byok.errors import Conflict, InvalidInput, NotFound
from byok.models import AuditEvent, AwsConnection, Tenant
from tests.connect_helpers import request_connection


def test_create_and_connect(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        t = crud.create_tenant(session, name="acme")
        conn = request_connection(session, tenant=t, account_id="123456789012",
                                  regions=["us-east-1", "eu-west-1"])
        # Requested, not proven: pending, with its own role name and ExternalId.
        assert (conn.state, conn.role_name) == ("pending", f"ByokVaultConnection-{t.id}")
        assert conn.external_id.startswith("byok-") and conn.token_hash
    assert conn.regions == ["us-east-1", "eu-west-1"]


@pytest.mark.parametrize(("account", "needle"), [
    ("12345678901", "11 digits"), ("abcdefghijkl", "digits only"), ("1234567890123", "13 digits"),
])
def test_bad_account_writes_nothing(any_engine: Engine, account: str, needle: str) -> None:
    with session_scope(any_engine) as session:
        crud.create_tenant(session, name="acme")
    with pytest.raises(InvalidInput) as info, session_scope(any_engine) as session:
        t = crud.get_tenant(session, ref="acme")
        request_connection(session, tenant=t, account_id=account, regions=["us-east-1"])
    assert needle in info.value.message and info.value.field == "account_id"
    with session_scope(any_engine) as session:
        assert session.exec(select(AwsConnection)).all() == []
        assert len(session.exec(select(AuditEvent)).all()) == 1  # only tenant.created


def test_unknown_region(any_engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="unknown AWS region"), \
            session_scope(any_engine) as session:
        t = crud.create_tenant(session, name="acme")
        request_connection(session, tenant=t, account_id="123456789012",
                           regions=["us-east-1", "moon-1"])
    with session_scope(any_engine) as session:
        assert session.exec(select(Tenant)).all() == []  # the whole unit rolled back


def test_duplicate_name_and_unknown_tenant(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        crud.create_tenant(session, name="acme")
    with pytest.raises(Conflict, match="already exists"), session_scope(any_engine) as session:
        crud.create_tenant(session, name="acme")
    with pytest.raises(NotFound, match="no tenant"), session_scope(any_engine) as session:
        crud.get_tenant(session, ref="nope")
