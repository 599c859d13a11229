"""Per-user rate limits shared by every socket and worker: sliding windows in
Redis (realtime.store), so "N per S seconds" holds over any S seconds.

A fixed window (one counter per S-second slot) let N through at the end of a slot
and N more at the start of the next: 2N in a moment. A sliding log keeps the
time of each attempt let through in the last S seconds and refuses the one that
would make N + 1; the client is told when the oldest leaves the window.

While Redis is away the limits fail open (with a warning): refusing every frame
would be worse than letting a flood through for a moment.
"""

import functools
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from . import metrics
from .errors import Refused
from .store import get_store
from .wire import Close

logger = logging.getLogger(__name__)

# A client still sending after this many times its rate in one window, refused
# attempts included, is flooding: its socket is closed with 4429.
FLOOD_FACTOR = 3
# At most one "unavailable" warning per this many seconds per process.
WARN_EVERY = 10.0
_warned_at = -math.inf


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


# Settings hold rates as strings; each frame would parse them again.
_parse = functools.lru_cache(maxsize=64)(Rate.parse)


def check_settings() -> None:
    """Raise ImproperlyConfigured for any `*_RATE_LIMIT` or `*_BYTES_LIMIT`
    setting that is not a rate."""
    for name in dir(settings):
        if name.endswith(("_RATE_LIMIT", "_BYTES_LIMIT")):
            try:
                _parse(getattr(settings, name))
            except ImproperlyConfigured as exc:
                raise ImproperlyConfigured(f"{name}: {exc}") from None


def spacing(rate: "Rate | str | None") -> float:
    """Return the seconds between attempts at `rate`'s average pace (0: no limit)."""
    if isinstance(rate, str):
        rate = _parse(rate)
    return 0.0 if rate is None else rate.seconds / rate.count


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Seconds until the same attempt would be let through (0 when it was).
    retry_after: float = 0.0
    # Over FLOOD_FACTOR times the rate in the window, refused attempts included.
    flooding: bool = False
    # Attempts in the window, refused ones included (when refused).
    attempts: int = 0


ALLOWED = Verdict(allowed=True)


@dataclass
class Hold:
    """A socket's refusal of one action, until `until` (time.monotonic())."""

    until: float
    attempts: int  # in the window when it was refused, refused ones included


def _count(rate: "Rate | str | None") -> int:
    if isinstance(rate, str):
        rate = _parse(rate)
    return 0 if rate is None else rate.count


async def take(
    action: str,
    user_id: int,
    rate: "Rate | str | None",
    *,
    cost: int = 1,
    now: float | None = None,
) -> Verdict:
    """Count one `action` of `user_id` (weighing `cost` units, e.g. bytes) against
    `rate` ("N/S" or a Rate; None or "0": no limit).

    `now` is for tests that drive time; by default Redis' clock decides.
    """
    if isinstance(rate, str):
        rate = _parse(rate)
    if rate is None:
        return ALLOWED
    # A single cost over the whole budget would never fit: it waits for an empty window.
    cost = max(0, min(cost, rate.count))
    try:
        allowed, retry_after, attempts = await get_store().sliding_window(
            f"rl:{action}:{user_id}", limit=rate.count, window=rate.seconds, cost=cost, now=now
        )
    except (OSError, RedisError):
        _warn_unavailable(action)
        return ALLOWED
    if allowed:
        return ALLOWED
    return Verdict(
        allowed=False,
        # Rounded up, so that a client waiting exactly this long is let through.
        retry_after=math.ceil(retry_after * 10) / 10,
        flooding=attempts > FLOOD_FACTOR * rate.count,
        attempts=attempts,
    )


async def admit(
    consumer,
    action: str,
    rate: "Rate | str | None",
    *,
    what: "str | Promise",
    cost: int = 1,
    **extra,
) -> bool:
    """Count a client frame of `consumer`'s user; return whether to handle it.

    Over the limit, raise the contract's `rate_limited` error (with `retry_after`
    and `extra` fields); a client that keeps on is closed with 4429 instead.
    """
    now = time.monotonic()
    held = consumer.rate_holds.get(action)
    if held is not None and now < held.until:
        # Refused a moment ago on this socket: frames sent right behind the
        # refused one wait too, so a slot that frees in between can't let a
        # later frame overtake it (a client pipelines its sends).
        held.attempts += 1
        limit = Verdict(
            allowed=False,
            retry_after=math.ceil((held.until - now) * 10) / 10,
            flooding=held.attempts > FLOOD_FACTOR * _count(rate),
        )
    else:
        limit = await take(action, consumer.user.pk, rate, cost=cost)
        if limit.allowed:
            return True
        consumer.rate_holds[action] = Hold(until=now + limit.retry_after, attempts=limit.attempts)
    if limit.flooding:
        metrics.here(metrics.frames_refused, "flooding").inc()
        consumer.ready = False
        await consumer.close(code=Close.FLOODING)
        return False
    raise Refused(
        _("Too many %(what)s; try again in %(seconds)s s.")
        % {"what": what, "seconds": f"{limit.retry_after:g}"},
        code="rate_limited",
        retry_after=limit.retry_after,
        **extra,
    )


def _warn_unavailable(action: str) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= WARN_EVERY:
        _warned_at = now
        logger.warning("rate limits unavailable (redis): allowing %s and the rest", action)
