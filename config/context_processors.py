"""The limits the browser client obeys, defined once on the server.

Every page renders this dict with ``json_script`` as ``#client-config``; the
scripts read it through ``static/js/config.js`` instead of copying numbers.
"""

from django.conf import settings

from chat import selectors as chat_selectors
from config.client_strings import client_strings
from notifications import selectors as notification_selectors
from realtime import ratelimit


def client_config(request):
    return {
        # The client's text in the page's language (static/js/i18n.js).
        "client_strings": client_strings(),
        "client_config": {
            "CHAT_MAX_BODY_CHARS": settings.CHAT_MAX_BODY_CHARS,
            "CHAT_MESSAGE_EMOJI_MAX": settings.CHAT_MESSAGE_EMOJI_MAX,
            "CHAT_EMOJI_MAX_BYTES": settings.CHAT_EMOJI_MAX_BYTES,
            "CHAT_HISTORY_PAGE": chat_selectors.HELLO_LATEST,
            "CHAT_MAX_UPLOAD_BYTES": settings.CHAT_MAX_UPLOAD_BYTES,
            "CHAT_MAX_ATTACHMENTS": settings.CHAT_MAX_ATTACHMENTS,
            "CHAT_HISTORY_MAX": chat_selectors.HISTORY_MAX,
            # Seconds between two `typing` frames the server passes on (0: no limit).
            "CHAT_TYPING_INTERVAL": ratelimit.spacing(settings.CHAT_TYPING_RATE_LIMIT),
            "NOTIFICATIONS_LATEST": notification_selectors.HELLO_LATEST,
            "REALTIME_MAX_FRAME_BYTES": settings.REALTIME_MAX_FRAME_BYTES,
            "REALTIME_PING_INTERVAL": settings.REALTIME_PING_INTERVAL,
            "REALTIME_PONG_TIMEOUT": settings.REALTIME_PONG_TIMEOUT,
        },
    }
