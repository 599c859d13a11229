"""Make every socket of this process catch up on what the channel layer could
not deliver while Redis was away.

Stored data (seq, ids) is the truth: each consumer re-reads what it has not
forwarded yet. The read must start only once the socket's subscriptions are
live again, or what is published between the read and the resubscription is
lost. Our layer (realtime.layers) says exactly when that is, per shard; other
layers (the stock pubsub and core layers) only let us notice that Redis answers
again, so for them a ping every REDIS_WATCH_INTERVAL seconds is the signal, the
best they allow.
"""

import asyncio
import logging
import weakref

from django.conf import settings

from . import metrics, presence, registry
from .store import get_store

logger = logging.getLogger(__name__)

_consumers: "weakref.WeakSet" = weakref.WeakSet()
_watch_task: asyncio.Task | None = None
_resyncs: set[asyncio.Task] = set()
_healthy = True


def register(consumer) -> None:
    """Resync `consumer` (which has an async `resync()` and a `channel_name`)
    when its subscriptions come back after an outage."""
    global _watch_task
    _consumers.add(consumer)
    add_listener = getattr(consumer.channel_layer, "add_resubscribed_listener", None)
    if add_listener is not None:
        add_listener(on_resubscribed)
        return
    loop = asyncio.get_running_loop()
    if _watch_task is None or _watch_task.done() or _watch_task.get_loop() is not loop:
        _watch_task = loop.create_task(_watch())


def unregister(consumer) -> None:
    _consumers.discard(consumer)


def on_resubscribed(channel_names: set[str]) -> None:
    """The layer's subscriptions for these local channels are confirmed again."""
    affected = [c for c in list(_consumers) if c.channel_name in channel_names]
    logger.warning("redis is back: %d sockets catch up from the database", len(affected))
    _spawn(_recover(affected))


async def _redis_answers() -> bool:
    try:
        return await asyncio.wait_for(get_store().ping(), timeout=2)
    except asyncio.CancelledError:
        raise
    except Exception:
        return False


async def _watch() -> None:
    global _healthy
    while _consumers:
        await asyncio.sleep(settings.REDIS_WATCH_INTERVAL)
        answers = await _redis_answers()
        if not answers and _healthy:
            logger.warning("redis unreachable: live delivery paused, sockets stay open")
            _healthy = False
        elif answers and not _healthy:
            _healthy = True
            metrics.here(metrics.layer_reconnects).inc()
            logger.warning("redis is back: %d sockets catch up from the database", len(_consumers))
            await on_recovered()


async def on_recovered() -> None:
    """Put this process's presence back and make every socket resync."""
    await _recover(list(_consumers))


async def _recover(consumers: list) -> None:
    try:
        await registry.refresh_once()
        await presence.refresh_once()
    except Exception:
        logger.warning("presence refresh after recovery failed", exc_info=True)
    for consumer in consumers:
        consumer.request_resync()


def _spawn(coro) -> None:
    task = asyncio.ensure_future(coro)
    _resyncs.add(task)
    task.add_done_callback(_resyncs.discard)
