"""Attack tests drive the real app: the web fixtures (app over ASGI, tenants with API keys)."""

from tests.web.conftest import (  # noqa: F401
    app,
    client,
    live_server,
    new_tenant,
    operator,
    worker,
)
