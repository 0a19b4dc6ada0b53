"""Attack tests drive the real app and the real worker: the web fixtures (app over ASGI,
tenants with API keys) and the workflow fixtures (a tenant, its proven connection)."""

from tests.web.conftest import (  # noqa: F401
    app,
    client,
    live_server,
    new_tenant,
    operator,
)
from tests.workflows.conftest import proven, tenant  # noqa: F401
