"""Fixtures: settings for a vendor deployment on localaws, in a region other than us-east-1."""

from __future__ import annotations

from pathlib import Path

import pytest

from byok.aws import AwsClients
from byok.settings import Settings, load_settings

REGION = "eu-west-1"


@pytest.fixture
def svc_settings(tmp_path: Path, localaws: object) -> Settings:
    localaws.reset()  # type: ignore[attr-defined]
    return load_settings(home=tmp_path / "home", aws_endpoint_url=localaws.url,  # type: ignore[attr-defined]
                         control_plane_region=REGION, vault_bucket="acme-byok-vault",
                         template_bucket="acme-byok-templates", assume_service_role=False)


@pytest.fixture
def svc_aws(svc_settings: Settings) -> AwsClients:
    return AwsClients(svc_settings)
