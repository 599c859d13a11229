"""The language of a logged-in user's pages: the one stored on their profile.

Django's LocaleMiddleware (before this one) picks the switcher's cookie, else
the browser's Accept-Language. A logged-in user who chose a language, here or on
another device, reads that one; the cookie is brought in step so that sockets,
which read it at the handshake (realtime.language), agree with the pages.
"""

from django.conf import settings
from django.utils import translation

from . import selectors


class UserLanguageMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        language = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = selectors.language(user=user)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        response = self.get_response(request)
        cookie = settings.LANGUAGE_COOKIE_NAME
        if language and request.COOKIES.get(cookie) != language and cookie not in response.cookies:
            set_language_cookie(response, language)
        return response


def set_language_cookie(response, language: str) -> None:
    """Set Django's language cookie as its set_language view does."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
