"""The web fixtures (app over ASGI, a worker, tenants with API keys) for the attack tests."""

from pathlib import Path

from byok.settings import Settings
from tests.web.conftest import app, client, new_tenant, operator, worker

__all__ = ["app", "client", "new_tenant", "operator", "restores_dir", "worker"]


def restores_dir(settings: Settings, tenant_id: str) -> Path:
    """Where a tenant's restores must land (spelled out, not imported: the layout is the
    claim under test)."""
    return settings.home.resolve() / "restores" / tenant_id
