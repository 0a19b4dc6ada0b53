"""The console's session: a signed (itsdangerous), HTTP-only, SameSite=Lax cookie (Secure when
the public URL is https) with a CSRF token bound to it. A signed-in cookie names the API key by
id and carries a session id whose hash the database holds (byok/console_sessions.py): sign-out
deletes it, so a copied cookie stops working. The key itself never leaves sign-in."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from byok.settings import Settings

COOKIE = "byok_session"
MAX_AGE = 12 * 3600
SALT = "byok-console-session"


def _new_csrf() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class ConsoleSession:
    """Anonymous sessions carry only a CSRF token (sign-in forms need one too)."""

    csrf: str = field(default_factory=_new_csrf)
    tenant_id: str | None = None
    key_id: str | None = None
    sid: str = ""  # server-side session id (console_sessions); empty when anonymous
    fresh: bool = False  # not yet in a cookie: save() must set it

    @property
    def signed_in(self) -> bool:
        return bool(self.tenant_id and self.key_id)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt=SALT)


def load(request: Request, settings: Settings) -> ConsoleSession:
    raw = request.cookies.get(COOKIE)
    if raw and len(raw) < 4096:
        try:
            data = _serializer(settings).loads(raw, max_age=MAX_AGE)
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                sid = data.get("sid")
                return ConsoleSession(csrf=data["csrf"], tenant_id=data.get("tenant_id"),
                                      key_id=data.get("key_id"),
                                      sid=sid if isinstance(sid, str) else "")
        except BadSignature:
            pass  # tampered or expired: start over as anonymous
    return ConsoleSession(fresh=True)


def save(response: Response, settings: Settings, session: ConsoleSession) -> None:
    data = {k: v for k, v in asdict(session).items() if k != "fresh"}
    response.set_cookie(COOKIE, _serializer(settings).dumps(data), max_age=MAX_AGE,
                        httponly=True, samesite="lax", path="/",
                        secure=settings.public_url.startswith("https://"))


def signed_in(tenant_id: str, key_id: str, sid: str) -> ConsoleSession:
    """A new session (new CSRF token) at sign-in, so a planted anonymous cookie is worthless."""
    return ConsoleSession(tenant_id=tenant_id, key_id=key_id, sid=sid, fresh=True)


def clear(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.public_url.startswith("https://"))


def csrf_ok(session: ConsoleSession, submitted: str) -> bool:
    return not session.fresh and secrets.compare_digest(session.csrf.encode(),
                                                        submitted.encode())
