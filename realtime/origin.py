"""Refuse WebSocket handshakes from other sites (cross-site WebSocket hijacking).

Browsers send cookies with a cross-site WebSocket handshake, so the Origin must
be this site's own by Django's CSRF rules: the same scheme, host and port as the
request, or listed in CSRF_TRUSTED_ORIGINS. A missing or `null` Origin is refused.
"""

import logging
from collections.abc import Awaitable
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope) -> bool:
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if not origin or origin == "null" or not host:
        return False
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or parts.path or parts.query or not parts.netloc:
        return False
    normalized = f"{parts.scheme}://{parts.netloc}".lower()
    secure = scope.get("scheme") in {"wss", "https"} or (
        _header(scope, b"x-forwarded-proto") == "https" and bool(settings.SECURE_PROXY_SSL_HEADER)
    )
    own = f"{'https' if secure else 'http'}://{host}".lower()
    trusted = {o.lower() for o in settings.CSRF_TRUSTED_ORIGINS}
    return normalized == own or normalized in trusted


class SameOriginValidator:
    """ASGI middleware: deny (HTTP 403) a handshake whose Origin is not ours.

    It returns the inner application's coroutine instead of awaiting it: a
    coroutine of its own would stay alive, frame and all, for as long as each
    socket is open. `_asgi_single_callable` tells asgiref (Daphne's command
    line, test communicators) that this is an ASGI 3 application all the same.
    """

    _asgi_single_callable = True

    def __init__(self, application) -> None:
        self.application = application

    def __call__(self, scope, receive, send) -> Awaitable[None]:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            logger.info("websocket refused: origin %r", _header(scope, b"origin"))
            return WebsocketDenier()(scope, receive, send)
        return self.application(scope, receive, send)
