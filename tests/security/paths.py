"""Where a tenant's restores must land (spelled out, not imported from the code under test:
the layout is the claim)."""

from pathlib import Path

from byok.settings import Settings


def restores_dir(settings: Settings, tenant_id: str) -> Path:
    return settings.home.resolve() / "restores" / tenant_id
