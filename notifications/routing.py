from django.urls import path

from . import consumers

websocket_urlpatterns = [
    # An ASGI app, not a view: django-stubs types path() for views only.
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),  # type: ignore[arg-type]
]
