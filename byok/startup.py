"""Start-up checks for processes that serve tenants: real AWS needs real settings, and the dev
secrets are allowed only on the embedded stack (local AWS endpoint, loopback binding)."""

from __future__ import annotations

import ipaddress
import sys
from urllib.parse import urlsplit

from byok.errors import InvalidSettings
from byok.keyspec import dev_key
from byok.settings import Settings
from byok.tls import tls_problems

DEV_OPERATOR_KEY = Settings.model_fields["operator_api_key"].default
DEV_SESSION_SECRET = Settings.model_fields["session_secret"].default
DEV_VAULT_BUCKET = Settings.model_fields["vault_bucket"].default
DEV_PAYLOAD_KEY = dev_key("payload")
DEV_AUDIT_KEY = dev_key("audit")
# AWS's documentation example accounts and our dev default: never a real vendor account.
PLACEHOLDER_ACCOUNTS = frozenset({"111122223333", "123456789012", "444455556666",
                                  "777788889999", "000000000000"})


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(address: str) -> str:
    """The host of host:port (or [v6]:port)."""
    return urlsplit(f"//{address}").hostname or ""


def check_real_mode(settings: Settings, bind_host: str) -> list[str]:
    """Every unsafe or missing setting, each naming its variable; empty = safe to start.
    bind_host: where the process listens (the web app), or what it takes work from."""
    problems = tls_problems(settings)  # a bad BYOK_TEMPORAL_TLS_* file, named before connecting
    dev = {"BYOK_OPERATOR_API_KEY": settings.operator_api_key == DEV_OPERATOR_KEY,
           "BYOK_SESSION_SECRET": settings.session_secret == DEV_SESSION_SECRET,
           # A public key seals nothing: the current payload key, and any audit key (one
           # would let anybody forge a link), must not be the dev default.
           "BYOK_PAYLOAD_KEYS": settings.payload_keys.split(",")[0].strip() == DEV_PAYLOAD_KEY,
           "BYOK_AUDIT_KEYS": DEV_AUDIT_KEY in (k.strip() for k in
                                                settings.audit_keys.split(","))}
    if settings.aws_endpoint_url:
        if not is_loopback(bind_host):
            problems += [f"{var} is the dev default, allowed only on a loopback binding "
                         f"(this process is exposed on {bind_host!r}): set a random secret"
                         for var, is_dev in dev.items() if is_dev]
        return problems
    # BYOK_AWS_ENDPOINT_URL is empty: this is real AWS.
    problems += [f"{var} is the dev default, refused on real AWS (BYOK_AWS_ENDPOINT_URL is "
                 "empty): set a random secret of 32+ characters"
                 for var, is_dev in dev.items() if is_dev]
    if settings.webhook_allow_loopback:
        problems.append("BYOK_WEBHOOK_ALLOW_LOOPBACK is a dev override, refused on real AWS: "
                        "alerts go only to public https endpoints")
    if settings.service_account_id in PLACEHOLDER_ACCOUNTS:
        problems.append(f"BYOK_SERVICE_ACCOUNT_ID {settings.service_account_id} is a "
                        "placeholder: set the vendor's 12-digit AWS account id")
    for var, value in (("BYOK_CALLBACK_TOPIC_NAME", settings.callback_topic_name),
                       ("BYOK_CALLBACK_QUEUE_NAME", settings.callback_queue_name),
                       ("BYOK_TEMPLATE_BUCKET", settings.template_bucket)):
        if not value:
            problems.append(f"{var} is not set: name the resource of the service stack "
                            "(`byok service deploy` prints it)")
    if settings.vault_bucket in ("", DEV_VAULT_BUCKET):
        what = repr(settings.vault_bucket) if settings.vault_bucket else "not set"
        problems.append(f"BYOK_VAULT_BUCKET is {what}: bucket names are global, name the "
                        "vendor's own bucket (the dev default is not it)")
    if urlsplit(settings.public_url).scheme != "https":
        problems.append(f"BYOK_PUBLIC_URL {settings.public_url!r} is not https: tenants' "
                        "browsers and API keys must not cross the network in clear")
    return problems


def require_safe_start(settings: Settings, bind_host: str, process: str) -> None:
    """Raise InvalidSettings listing every problem (the process must not start)."""
    problems = check_real_mode(settings, bind_host)
    if problems:
        raise InvalidSettings(f"{process} refuses to start: " + "; ".join(problems),
                              code="UNSAFE_SETTINGS")


def exit_if_unsafe(settings: Settings, bind_host: str, process: str) -> None:
    """For entry points: print the problems (never the secrets) and exit non-zero."""
    try:
        require_safe_start(settings, bind_host, process)
    except InvalidSettings as exc:
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
