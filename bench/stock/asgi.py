"""ASGI entry point of the tutorial setup: `daphne bench.stock.asgi:application`.

Same authentication (AuthMiddlewareStack, login required) and Origin check
(realtime.origin.SameOriginValidator) as the app; the tutorial's consumer and
channel layer (bench.stock.settings).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.stock.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.stock import consumers  # noqa: E402
from realtime.origin import SameOriginValidator  # noqa: E402

websocket_urlpatterns = [
    path("ws/chat/<str:room_name>/", consumers.ChatConsumer.as_asgi()),
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
