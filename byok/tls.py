"""The client side of mTLS to Temporal (BYOK_TEMPORAL_TLS_*): PEM files read and checked with
the standard library only, so start-up checks can name a bad file before anything connects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from byok.errors import InvalidSettings
from byok.settings import Settings


@dataclass(frozen=True)
class TlsFiles:
    ca: bytes | None  # None = the system's roots verify the server
    cert: bytes | None
    key: bytes | None
    server_name: str | None


def _pem(var: str, path: str, what: str, markers: tuple[bytes, ...]) -> bytes:
    """A PEM file's bytes, or an error naming the variable and the path (never the content)."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidSettings(f"{var} {path!r} cannot be read: {exc.strerror or exc}",
                              field=var) from None
    if not any(m in data for m in markers):
        raise InvalidSettings(f"{var} {path!r} is not a PEM {what}", field=var)
    return data


CERT = (b"-----BEGIN CERTIFICATE-----",)
KEY = (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----",
       b"-----BEGIN EC PRIVATE KEY-----")


def tls_files(settings: Settings) -> TlsFiles | None:
    """None = plaintext (the embedded stack). Settings already refused a cert without its key."""
    if not settings.temporal_tls:
        return None
    ca = (_pem("BYOK_TEMPORAL_TLS_CA", settings.temporal_tls_ca, "certificate", CERT)
          if settings.temporal_tls_ca else None)
    cert = key = None
    if settings.temporal_tls_cert:
        cert = _pem("BYOK_TEMPORAL_TLS_CERT", settings.temporal_tls_cert, "certificate", CERT)
        key = _pem("BYOK_TEMPORAL_TLS_KEY", settings.temporal_tls_key, "private key", KEY)
    return TlsFiles(ca, cert, key, settings.temporal_tls_server_name or None)


def tls_problems(settings: Settings) -> list[str]:
    try:
        tls_files(settings)
    except InvalidSettings as exc:
        return [exc.message]
    return []
