"""Fixed-window rate limits shared by every socket and worker of a user."""

import logging
import time
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError

from .store import get_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, value: str) -> "Rate | None":
        """Parse "N/S" (N per S seconds); "0" or "" means no limit."""
        value = (value or "").strip()
        if value in {"", "0"}:
            return None
        try:
            count, seconds = (int(part) for part in value.split("/"))
        except ValueError as exc:
            raise ImproperlyConfigured(f"A rate is 'N/S', like '20/10', not {value!r}") from exc
        if count <= 0 or seconds <= 0:
            raise ImproperlyConfigured(f"A rate needs positive numbers, not {value!r}")
        return cls(count, seconds)


def seconds_left(rate: Rate) -> float:
    """Seconds until the current window ends and the count starts again."""
    return round(rate.seconds - time.time() % rate.seconds, 1)


async def hit(name: str, user_id: int, rate: Rate) -> int:
    """Count one action in the current window; return the count so far."""
    window = int(time.time() // rate.seconds)
    try:
        return await get_store().incr_window(f"rl:{name}:{user_id}:{window}", rate.seconds)
    except (OSError, RedisError):
        # Fail open while Redis is away: refusing every send would be worse.
        logger.warning("rate limit unavailable (redis): allowing")
        return 0
