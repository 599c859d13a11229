import asyncio
import hmac
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from . import metrics as realtime_metrics
from .store import get_store

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.warning("healthz: database down", exc_info=True)
        return False


async def _channel_layer_ok() -> bool:
    """Whether every Redis the channel layer uses answers a ping.

    The probe asks the hosts (settings.REDIS_HOSTS, the layer's own) through the
    store's pooled connections and makes no channel: with the pubsub layer, a
    channel made per probe (new_channel, send, receive) stayed subscribed in
    Redis and queued in the worker after its receive, so an anonymous client
    could grow both without limit. The in-memory layer has nothing to ask.
    """
    try:
        get_channel_layer()  # a misconfigured layer raises here
        return await asyncio.wait_for(get_store().ping(), timeout=3)
    except Exception:
        logger.warning("healthz: channel layer down", exc_info=True)
        return False


async def healthz(request):
    """200 when the database and the channel layer answer; 503 naming what is down."""
    status = {
        "database": "ok" if await sync_to_async(_database_ok)() else "down",
        "channel_layer": "ok" if await _channel_layer_ok() else "down",
    }
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)


def metrics(request):
    """Prometheus text format, for staff sessions or `Authorization: Bearer $METRICS_TOKEN`."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    by_token = bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if not by_token and not (request.user.is_authenticated and request.user.is_staff):
        return HttpResponse("Staff session or metrics token required.\n", status=403)
    body, content_type = realtime_metrics.render()
    return HttpResponse(body, content_type=content_type)
