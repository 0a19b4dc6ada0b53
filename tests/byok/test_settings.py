"""Settings: embedded defaults, and invalid values named by their variable."""

import pytest

from byok.errors import InvalidSettings
from byok.settings import load_settings


def test_defaults_are_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BYOK_HOME", "BYOK_DATABASE_URL", "BYOK_WEB_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.temporal_address == "localhost:7233"
    assert s.web_port == 8000
    assert s.control_plane_region == "us-east-1"
    assert s.db_url.startswith("sqlite:///") and s.db_url.endswith(".byok/byok.db")
    assert s.aws_endpoint_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(("var", "value", "needle"), [
    ("BYOK_WEB_PORT", "eighty", "BYOK_WEB_PORT"),
    ("BYOK_WEB_PORT", "70000", "BYOK_WEB_PORT"),
    ("BYOK_CONTROL_PLANE_REGION", "mars-1", "BYOK_CONTROL_PLANE_REGION"),
    ("BYOK_SERVICE_ACCOUNT_ID", "1234", "BYOK_SERVICE_ACCOUNT_ID"),
    ("BYOK_TOKEN_TTL_DAYS", "0", "BYOK_TOKEN_TTL_DAYS"),
    ("BYOK_VAULT_BACKEND", "ftp", "BYOK_VAULT_BACKEND"),
])
def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, var: str,
                                          value: str, needle: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidSettings) as info:
        load_settings()
    assert needle in str(info.value)
