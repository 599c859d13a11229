"""Notice when Redis comes back after an outage, and make every socket of this
process catch up on what the channel layer could not deliver meanwhile.

The pubsub layer resubscribes by itself, but what was published while Redis was
away is gone; stored data (seq, ids) is the truth, so each consumer re-reads
what it has not forwarded yet.
"""

import asyncio
import logging
import weakref

from django.conf import settings

from . import metrics, online, presence
from .store import get_store

logger = logging.getLogger(__name__)

_consumers: "weakref.WeakSet" = weakref.WeakSet()
_watch_task: asyncio.Task | None = None
_resyncs: set[asyncio.Task] = set()
_healthy = True


def register(consumer) -> None:
    """Watch Redis for `consumer`, which has an async `resync()`."""
    global _watch_task
    _consumers.add(consumer)
    loop = asyncio.get_running_loop()
    if _watch_task is None or _watch_task.done() or _watch_task.get_loop() is not loop:
        _watch_task = loop.create_task(_watch())


def unregister(consumer) -> None:
    _consumers.discard(consumer)


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
            metrics.layer_reconnects.labels(metrics.WORKER).inc()
            logger.warning("redis is back: %d sockets catch up from the database", len(_consumers))
            await on_recovered()


async def on_recovered() -> None:
    """Put this process's presence back and make each socket resync."""
    try:
        await presence.refresh_once()
        await online.refresh_once()
    except Exception:
        logger.warning("presence refresh after recovery failed", exc_info=True)
    for consumer in list(_consumers):
        task = asyncio.ensure_future(consumer.resync())
        _resyncs.add(task)
        task.add_done_callback(_resyncs.discard)
