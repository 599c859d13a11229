"""Log a WebSocket in from its Django session cookie.

Channels' AuthMiddlewareStack wraps the socket's `send` to save a changed session
and set its cookie, which only HTTP responses can carry; on a WebSocket that
wrapper just costs two lazy-object lookups on every frame sent. Sockets never
change the session, so this reads it once at the handshake and leaves `send` as
the server gave it.
"""

from importlib import import_module
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user
from django.http.cookie import parse_cookie

from .db import db_call

if TYPE_CHECKING:
    # Models: importable only once the apps are loaded.
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.base import SessionBase


def _session_user(session: "SessionBase") -> "AbstractBaseUser | AnonymousUser":
    """Return the user `session` logs in, or AnonymousUser.

    Django's own: loads the user and checks the session's auth hash (a changed
    password logs the session out), in one call.
    """
    # get_user reads nothing of the request but its session.
    return get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]


def _cookies(scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1"))
    return {}


class SessionAuthMiddleware:
    """Set scope["session"] and scope["user"] (AnonymousUser when not logged in)."""

    def __init__(self, application) -> None:
        self.application = application
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        cookies = _cookies(scope)
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        session = self.session_store(session_key)
        scope = {**scope, "cookies": cookies, "session": session}
        scope["user"] = await db_call(_session_user)(session)
        return await self.application(scope, receive, send)


@db_call
def _login_user_id(session_key: str) -> int | None:
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = _session_user(session)
    return user.pk if user.is_authenticated else None


async def login_still_valid(session, user) -> bool:
    """Return whether the socket's login session still logs in `user`: not
    expired or deleted, the password unchanged, the account active."""
    if session is None or not session.session_key:
        return False
    return await _login_user_id(session.session_key) == user.pk
