"""The workflow fixtures (a real worker, a tenant, its proven connection) for attack tests."""

from tests.workflows.conftest import proven, tenant, worker  # noqa: F401
