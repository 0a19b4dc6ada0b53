"""Attack tests drive the real app: the web fixtures (app over ASGI, tenants with API keys)."""

from tests.web.conftest import app, client, new_tenant, operator, worker  # noqa: F401
