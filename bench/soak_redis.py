"""What the soak reads from Redis: the pub/sub channels (`PUBSUB CHANNELS *`), how
many subscriptions they have (`PUBSUB NUMSUB`) and how many clients are connected.

channels-redis' pubsub layer subscribes one Redis channel per group a worker has a
local member in (`asgi__group__<group>`) and one per consumer channel
(`asgispecific.<hex>`); both should go away when the sockets that needed them do.
Channels are counted by kind, numbers and hex ids folded (`group chat.room.*`), so
that a leak says where it comes from.
"""

from __future__ import annotations

import re
from collections import Counter

import redis

_ID = re.compile(r"[0-9a-f]{16,}|\d+")


def channel_kind(name: str) -> str:
    prefix, _, group = name.partition("__group__")
    if group:
        return "group " + _ID.sub("*", group)
    return _ID.sub("*", prefix)


def census(url: str) -> dict:
    """The pub/sub channels and subscriptions of the Redis at `url`, by kind."""
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    try:
        channels = [c.decode() for c in client.pubsub_channels("*")]
        subscriptions = 0
        for start in range(0, len(channels), 500):
            pairs = client.pubsub_numsub(*channels[start : start + 500])
            subscriptions += sum(count for _, count in pairs)
        clients = client.info("clients")["connected_clients"]
    finally:
        client.close()
    return {
        "channels": len(channels),
        "subscriptions": subscriptions,
        "redis_clients": clients,
        "by_kind": dict(Counter(channel_kind(c) for c in channels).most_common()),
    }
