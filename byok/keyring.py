"""Which key encrypts a tenant's backup, and which role opens a given key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from byok.errors import KeyUnusable
from byok.models import KeyBinding


@dataclass(frozen=True)
class KeyChoice:
    kind: str  # byok / default
    key_arn: str  # "" = the service's default key in the region, resolved by the vault
    generation: int | None = None


def bindings(session: Session, tenant_id: str) -> list[KeyBinding]:
    """Every key generation of the tenant, newest first."""
    return list(session.exec(select(KeyBinding).where(KeyBinding.tenant_id == tenant_id)
                             .order_by(col(KeyBinding.generation).desc())).all())


def key_in_region(binding: KeyBinding, region: str) -> str | None:
    if region == binding.primary_region:
        return binding.key_arn
    return binding.replica_key_arns.get(region)


def choose_backup_key(session: Session, tenant_id: str, region: str) -> KeyChoice:
    """A BYOK tenant's backups use its current key in that region, never the default key."""
    found = bindings(session, tenant_id)
    if not found:
        return KeyChoice("default", "")
    current = found[0]
    arn = key_in_region(current, region)
    if arn is None:
        raise KeyUnusable(
            f"your BYOK key has no working replica in {region} (installed in "
            f"{', '.join([current.primary_region, *current.replica_key_arns])}); backups there "
            "cannot be encrypted with your key", code="REPLICA_MISSING")
    return KeyChoice("byok", arn, current.generation)


def binding_for_key(session: Session, tenant_id: str, key_arn: str) -> KeyBinding | None:
    """The tenant's binding that owns `key_arn` (primary or replica), or None (default key)."""
    for b in bindings(session, tenant_id):
        if key_arn == b.key_arn or key_arn in b.replica_key_arns.values():
            return b
    return None


def kind_of(session: Session, tenant_id: str, key_arn: str) -> str:
    found = bindings(session, tenant_id)
    owner = binding_for_key(session, tenant_id, key_arn)
    if owner is None:
        return "default"
    return "byok" if owner.generation == found[0].generation else "legacy"
