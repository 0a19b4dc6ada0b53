"""The web fixtures (app over ASGI, a worker, tenants with API keys) for the attack tests."""

from tests.web.conftest import app, client, new_tenant, operator, worker

__all__ = ["app", "client", "new_tenant", "operator", "worker"]
