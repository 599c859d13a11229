"""Counts kept in this process and added to Redis hashes once a second, for
figures the admin's Live page shows across workers (how many sockets each
broadcast reached) without a Redis call per delivery."""

import asyncio
import logging
from collections import Counter

from .store import get_store

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0

_pending: Counter[tuple[str, str]] = Counter()
_flush_task: asyncio.Task | None = None


def add(key: str, field: str, amount: int = 1) -> None:
    """Count `amount` into Redis hash `key`, field `field`, within a second."""
    global _flush_task
    _pending[(key, field)] += amount
    if _flush_task is None or _flush_task.done():
        _flush_task = asyncio.get_running_loop().create_task(_flush_soon())


async def _flush_soon() -> None:
    await asyncio.sleep(FLUSH_INTERVAL)
    await flush()


async def flush() -> None:
    if not _pending:
        return
    counts = dict(_pending)
    _pending.clear()
    try:
        await get_store().hincrby_many(counts)
    except asyncio.CancelledError:
        raise
    except Exception:
        # Put them back for the next flush rather than lose them.
        _pending.update(counts)
        logger.warning("tally flush failed (redis)", exc_info=True)


async def read(key: str) -> dict[str, int]:
    return await get_store().hgetall_ints(key)
