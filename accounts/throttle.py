"""Attempt counters for login and signup, in Django's cache (Redis when
Redis is configured, so every worker shares them)."""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from realtime.ratelimit import Rate


def _key(scope: str, ident: str, rate: Rate) -> str:
    window = int(time.time() // rate.seconds)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    return f"throttle:{scope}:{digest}:{window}"


def over_limit(scope: str, *idents: str) -> bool:
    """Count one attempt for each ident; return whether any is over AUTH_RATE_LIMIT."""
    rate = Rate.parse(settings.AUTH_RATE_LIMIT)
    if rate is None:
        return False
    over = False
    for ident in idents:
        key = _key(scope, ident, rate)
        cache.add(key, 0, timeout=rate.seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=rate.seconds + 1)
            count = 1
        over = over or count > rate.count
    return over


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"
