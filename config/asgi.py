"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Set up Django before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from realtime import collector  # noqa: E402
from realtime.auth import SessionAuthMiddleware  # noqa: E402
from realtime.header_deadline import ArmHeaderDeadline  # noqa: E402
from realtime.origin import SameOriginValidator  # noqa: E402

# Under plain `daphne`, the first request arms the deadline on request headers
# (slowloris); `manage.py serve` arms it before accepting.
application = ArmHeaderDeadline(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": SameOriginValidator(
                # Django's URLPatterns of ASGI apps, which channels' stubs don't name.
                SessionAuthMiddleware(URLRouter(websocket_urlpatterns))  # type: ignore[arg-type]
            ),
        }
    ),
    settings.REALTIME_HEADER_TIMEOUT,
)

# Whatever launches the app (`manage.py serve`, plain `daphne`, `runserver`),
# what is loaded by now stays: keep the garbage collector off it.
collector.settle()
