"""The language of a socket's text (error details, notices).

Django's LocaleMiddleware never runs for WebSockets. The handshake carries what
it would read: the language cookie (the header's switcher sets it, and a
logged-in user's stored language is copied into it by every page) and the
browser's Accept-Language. Read once per socket, at the handshake: no database
query, none per frame.
"""

from types import SimpleNamespace

from django.conf import settings
from django.utils import translation


def scope_language(scope) -> str:
    """Return the language Django would pick for a request with this scope's headers."""
    accept = ""
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            accept = value.decode("latin-1")
            break
    cookies = scope.get("cookies") or {}
    # get_language_from_request reads nothing but these two.
    request = SimpleNamespace(
        COOKIES={settings.LANGUAGE_COOKIE_NAME: cookies.get(settings.LANGUAGE_COOKIE_NAME, "")},
        META={"HTTP_ACCEPT_LANGUAGE": accept},
    )
    return translation.get_language_from_request(request)  # type: ignore[arg-type]
