"""Fixtures of the activity tests: AWS clients that count the requests they make."""

from __future__ import annotations

from typing import Any

import pytest

from byok.aws import AwsClients
from byok.settings import Settings
from control.service import ensure_service_resources


@pytest.fixture
def counting(settings: Settings, localaws: Any) -> AwsClients:
    """The service's resources on a fresh localaws, then the KMS request counts from zero."""
    localaws.reset()
    aws = AwsClients(settings)
    ensure_service_resources(aws, settings)
    aws.requests["kms"].clear()
    return aws
