"""Shared state for presence and rate limits: the channel layer's Redis hosts
(one, shards, or a Sentinel master) when configured, else process memory (the
one-process development mode). A key lives on the shard channels-redis'
consistent hash picks for it."""

import asyncio
import os
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any, Literal

import redis.asyncio as aioredis
from channels_redis.utils import _consistent_hash
from django.conf import settings
from redis.asyncio.sentinel import Sentinel

from .pipelining import CommandQueue, LuaScript, run_script


def _client(host) -> aioredis.Redis:
    """A client for `host`: its pool makes the store's connection to it (the
    commands themselves go through a CommandQueue)."""
    # Explicit timeouts: redis-py's defaults changed under channels-redis before
    # (docs/channel-layer.md).
    options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
    if isinstance(host, dict):
        sentinel = Sentinel(host["sentinels"], **options)
        return sentinel.master_for(host["master_name"], **options)
    return aioredis.Redis.from_url(host, **options)


# A sliding-window log (realtime.ratelimit): KEYS[1] is a sorted set of the
# attempts let through in the last window (score: time, member: "<nonce>:<cost>"),
# KEYS[2] one of the refused ones (flood detection). One script, so concurrent
# workers never both take the last unit. Without a time from the caller, Redis'
# own clock is used: one clock per key, whatever the workers' clocks say.
# Returns {allowed 0/1, seconds until `cost` more would fit, attempts in the window}.
SLIDING_WINDOW_LUA = """
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[5])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local log = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #log, 2 do
  used = used + tonumber(string.match(log[i], ':(%d+)$'))
end
local ttl = math.ceil(window * 1000)
if used + cost <= limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. cost)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {1, '0', #log / 2 + 1 + redis.call('ZCARD', KEYS[2])}
end
local retry = window
for i = 1, #log, 2 do
  used = used - tonumber(string.match(log[i], ':(%d+)$'))
  if used + cost <= limit then
    retry = tonumber(log[i + 1]) + window - now
    break
  end
end
redis.call('ZADD', KEYS[2], now, ARGV[4])
-- A flood is detected long before this; the cap bounds the key's memory.
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1001)
redis.call('PEXPIRE', KEYS[2], ttl)
return {0, tostring(retry), #log / 2 + redis.call('ZCARD', KEYS[2])}
"""
REFUSED_MAX = 1000

# A member added to a sorted set scored by expiry (realtime.registry), the
# expired pruned first: one script, so one reply to parse instead of a
# MULTI/EXEC's five. Returns the live members' count.
ZSET_ADD_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])
"""

# A user online in a room from a worker (realtime.presence): KEYS[1] the room's
# users, KEYS[2] the user's workers there, both scored by expiry. One script
# (one reply to parse, not a MULTI/EXEC's eight); the first ARGV[6] live users
# come back only when asked for (a worker with a fresh list asks for none).
# Returns {1 if newly online, live users, first users...}.
ONLINE_JOIN_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])
local added = redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local reply = {added, redis.call('ZCARD', KEYS[1])}
local limit = tonumber(ARGV[6])
if limit > 0 then
  local first = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[5], '+inf', 'LIMIT', 0, limit)
  for i = 1, #first do
    reply[#reply + 1] = first[i]
  end
end
return reply
"""

# Whether a worker announces who is online in a room (realtime.presence), for
# every worker: KEYS[1] the room's users (scored by expiry), KEYS[2] what was
# announced last (a digest of the count and the first ARGV[2] users) and when
# the room may hear again (by Redis's clock, in ms). ARGV: now, limit, ms until
# the room may hear again after this announcement, ttl. Returns {verdict, ms to
# wait, live users, first users...}: "same" when the room is as last announced
# (by any worker), "wait" before the last announcer's interval is over, else
# "new", recorded as announced. So a room hears at most one announcement per
# interval, however many workers have changes to announce.
ONLINE_ANNOUNCE_LUA = """
local count = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')
local first = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
local sorted = {}
for i = 1, #first do
  sorted[i] = first[i]
end
table.sort(sorted)
local digest = redis.sha1hex(count .. '\\n' .. table.concat(sorted, '\\n'))
local told = redis.call('HMGET', KEYS[2], 'digest', 'due')
local verdict, wait = 'same', 0
if told[1] ~= digest then
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local due = tonumber(told[2] or '0')
  if now < due then
    verdict, wait = 'wait', due - now
  else
    verdict = 'new'
    redis.call('HSET', KEYS[2], 'digest', digest, 'due', now + tonumber(ARGV[3]))
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  end
end
local reply = {verdict, wait, count}
for i = 1, #first do
  reply[#reply + 1] = first[i]
end
return reply
"""

# The heartbeats' refresh (realtime.registry, realtime.presence): a worker's
# every entry pushed forward in one command per shard and chunk, not a pipeline
# of three commands per key. Packing and parsing that pipeline in Python cost a
# worker 340-430 ms of CPU per beat for 5,000 users (the script: about 35 ms),
# time in which its sockets got nothing.
#
# KEYS: sorted sets; ARGV: expiry, ttl, now, then per key its member count and
# members. Returns the expired members pruned per key. ZADD without XX: a Redis
# that restarted empty gets the entries back.
ZSET_REFRESH_LUA = """
local expires, ttl, now = ARGV[1], ARGV[2], ARGV[3]
local at, pruned = 4, {}
for i = 1, #KEYS do
  local n = tonumber(ARGV[at])
  for j = at + 1, at + n do
    redis.call('ZADD', KEYS[i], expires, ARGV[j])
  end
  at = at + n + 1
  redis.call('EXPIRE', KEYS[i], ttl)
  pruned[i] = redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
end
return pruned
"""

# KEYS: per room, its key, then the user keys of its members; ARGV: expiry,
# ttl, now, worker, then per room its member count and members (in the order of
# their user keys). Returns the expired users pruned per room.
ONLINE_REFRESH_LUA = """
local expires, ttl, now, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k, at, pruned = 1, 5, {}
while k <= #KEYS do
  local room, n = KEYS[k], tonumber(ARGV[at])
  for j = 1, n do
    redis.call('ZADD', room, expires, ARGV[at + j])
    redis.call('ZADD', KEYS[k + j], expires, worker)
    redis.call('EXPIRE', KEYS[k + j], ttl)
  end
  redis.call('EXPIRE', room, ttl)
  pruned[#pruned + 1] = redis.call('ZREMRANGEBYSCORE', room, '-inf', now)
  k, at = k + n + 1, at + n + 1
end
return pruned
"""
# KEYS: sorted sets; ARGV: now. Returns each key's members live after now.
ZSET_LIVE_COUNTS_LUA = """
local now, counts = ARGV[1], {}
for i = 1, #KEYS do
  counts[i] = redis.call('ZCOUNT', KEYS[i], now, '+inf')
end
return counts
"""
SLIDING_WINDOW = LuaScript(SLIDING_WINDOW_LUA)
ZSET_ADD = LuaScript(ZSET_ADD_LUA)
ZSET_LIVE_COUNTS = LuaScript(ZSET_LIVE_COUNTS_LUA)
ONLINE_JOIN = LuaScript(ONLINE_JOIN_LUA)
ONLINE_ANNOUNCE = LuaScript(ONLINE_ANNOUNCE_LUA)
ZSET_REFRESH = LuaScript(ZSET_REFRESH_LUA)
ONLINE_REFRESH = LuaScript(ONLINE_REFRESH_LUA)

# Members per refresh command at most: a script runs alone in Redis, so a long
# one would hold up every other client.
REFRESH_CHUNK = 500


def _chunks(items: list, size_of, limit: int) -> list[list]:
    """Split `items` into runs whose sizes (`size_of` each) add up to about `limit`."""
    runs: list[list] = [[]]
    size = 0
    for item in items:
        if runs[-1] and size + size_of(item) > limit:
            runs.append([])
            size = 0
        runs[-1].append(item)
        size += size_of(item)
    return runs


@dataclass(frozen=True)
class Announcement:
    """A worker's turn to announce who is online in a room (`online_announce`)."""

    verdict: Literal["new", "same", "wait"]
    wait: float  # seconds until the room may hear again ("wait")
    count: int  # live users
    first: list[str]  # the first `limit` of them


class RedisStore:
    """The few Redis operations presence and rate limits need, each shard's
    commands pipelined across callers (realtime.pipelining)."""

    def __init__(self, hosts: list) -> None:
        self.clients = [_client(host) for host in hosts]
        self.queues = [
            CommandQueue(client.connection_pool.make_connection) for client in self.clients
        ]

    async def aclose(self) -> None:
        for queue, client in zip(self.queues, self.clients, strict=True):
            await queue.aclose()
            await client.aclose()

    def _shard(self, key: str) -> aioredis.Redis:
        """The client of `key`'s shard (a connection pool, for the tests' checks)."""
        return self.clients[self._shard_index(key)]

    def _shard_index(self, key: str) -> int:
        return _consistent_hash(key, len(self.clients))

    def _queue(self, key: str) -> CommandQueue:
        return self.queues[self._shard_index(key)]

    def _by_shard(self, keys) -> dict[int, list]:
        shards = defaultdict(list)
        for key in keys:
            shards[self._shard_index(key)].append(key)
        return shards

    async def sliding_window(
        self, key: str, *, limit: int, window: float, cost: int = 1, now: float | None = None
    ) -> tuple[bool, float, int]:
        """Take `cost` units from `limit` per `window` seconds, sliding, if they fit.

        Return (taken, seconds until they would fit, attempts in the window,
        taken or not).
        """
        taken, retry_after, attempts = await run_script(
            self._queue(key),
            SLIDING_WINDOW,
            [key, f"{key}:refused"],
            [limit, window, cost, os.urandom(6).hex(), "" if now is None else repr(now)],
        )
        return bool(taken), float(retry_after), int(attempts)

    async def zset_add(self, key: str, member: str, expires_at: float, ttl: int) -> int:
        """Add a member; return how many live members there are now."""
        count = await run_script(
            self._queue(key), ZSET_ADD, [key], [member, expires_at, ttl * 2, time.time()]
        )
        return int(count)

    async def zset_remove(self, key: str, member: str) -> list[str]:
        """Remove a member; return the live members left."""
        _, _, left = await self._queue(key).transaction(
            [
                ("ZREM", key, member),
                ("ZREMRANGEBYSCORE", key, "-inf", time.time()),
                ("ZRANGE", key, 0, -1),
            ]
        )
        return [m.decode() for m in left]

    async def zset_members(self, key: str) -> list[str]:
        members = await self._queue(key).call("ZRANGEBYSCORE", key, time.time(), "+inf")
        return [m.decode() for m in members]

    async def zset_refresh(
        self, entries: dict[str, set[str]], expires_at: float, ttl: int
    ) -> dict[str, int]:
        """Push the expiry of local members forward; prune dead ones.

        Return how many expired members were pruned per key.
        """
        now = time.time()
        pruned: dict[str, int] = {}
        for shard, keys in self._by_shard(entries).items():
            for chunk in _chunks(keys, lambda key: len(entries[key]), REFRESH_CHUNK):
                args: list = [expires_at, ttl * 2, now]
                for key in chunk:
                    args.append(len(entries[key]))
                    args.extend(entries[key])
                counts = await run_script(self.queues[shard], ZSET_REFRESH, chunk, args)
                pruned.update(zip(chunk, map(int, counts), strict=True))
        return pruned

    async def zset_live_counts(self, keys: list[str]) -> dict[str, int]:
        """Return how many live members each key has: the shards asked side by
        side, one script per REFRESH_CHUNK keys (a ZCOUNT command each, packed
        and answered one by one, cost 2-3 times the CPU for 50-100 keys)."""
        now = time.time()
        asked = []
        for shard, shard_keys in self._by_shard(keys).items():
            for chunk in _chunks(shard_keys, lambda key: 1, REFRESH_CHUNK):
                script = run_script(self.queues[shard], ZSET_LIVE_COUNTS, chunk, [now])
                asked.append((chunk, asyncio.ensure_future(script)))
        counts = {}
        try:
            for chunk, replies in asked:
                counts.update({key: int(n) for key, n in zip(chunk, await replies, strict=True)})
        finally:
            for _, replies in asked:
                replies.cancel()  # (a no-op for those answered) none left running on an error
        return counts

    async def ping(self) -> bool:
        """Whether every shard answers (asked side by side: one round trip)."""
        answers = await asyncio.gather(*(queue.call("PING") for queue in self.queues))
        return all(answer == b"PONG" for answer in answers)

    async def hincrby_many(self, counts: dict[tuple[str, str], int]) -> None:
        for shard, items in self._by_shard_items(counts).items():
            commands: list[tuple] = []
            for (key, field), amount in items:
                commands.append(("HINCRBY", key, field, amount))
                commands.append(("EXPIRE", key, 30 * 86400))
            await self.queues[shard].call_many(commands)

    def _by_shard_items(self, counts: dict[tuple[str, str], int]) -> dict[int, list]:
        shards = defaultdict(list)
        for (key, field), amount in counts.items():
            shards[self._shard_index(key)].append(((key, field), amount))
        return shards

    async def hgetall_ints(self, key: str) -> dict[str, int]:
        flat = await self._queue(key).call("HGETALL", key)
        return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    # Who is online in a group (realtime.presence): `room_key` is a sorted set of
    # users, `user_key` a sorted set of the workers holding that user's sockets
    # there; both scored by expiry and kept on the room key's shard.

    async def online_join(
        self,
        room_key: str,
        user_key: str,
        member: str,
        worker: str,
        expires_at: float,
        ttl: int,
        limit: int,
    ) -> tuple[bool, int, list[str]]:
        """Mark `member` online from `worker`; return (newly online, count, first `limit`)."""
        added, count, *first = await run_script(
            self._queue(room_key),
            ONLINE_JOIN,
            [room_key, user_key],
            [member, worker, expires_at, ttl * 2, time.time(), limit],
        )
        return bool(added), int(count), [m.decode() for m in first]

    async def online_leave(self, room_key: str, user_key: str, member: str, worker: str) -> bool:
        """Drop `worker` from the user's workers; return whether the user went offline."""
        queue = self._queue(room_key)
        _, others = await queue.transaction(
            [("ZREM", user_key, worker), ("ZCOUNT", user_key, time.time(), "+inf")]
        )
        if others:
            return False
        removed, _ = await queue.transaction([("ZREM", room_key, member), ("DEL", user_key)])
        return bool(removed)

    async def online_refresh(
        self, rooms: dict[str, dict[str, str]], worker: str, expires_at: float, ttl: int
    ) -> dict[str, int]:
        """Extend this worker's users ({room_key: {member: user_key}}); prune the
        expired. Return how many expired users were pruned per room key."""
        now = time.time()
        pruned: dict[str, int] = {}
        for shard, room_keys in self._by_shard(rooms).items():
            for chunk in _chunks(room_keys, lambda key: len(rooms[key]), REFRESH_CHUNK):
                keys: list[str] = []
                args: list = [expires_at, ttl * 2, now, worker]
                for room_key in chunk:
                    members = rooms[room_key]
                    keys.append(room_key)
                    keys.extend(members.values())
                    args.append(len(members))
                    args.extend(members)
                counts = await run_script(self.queues[shard], ONLINE_REFRESH, keys, args)
                pruned.update(zip(chunk, map(int, counts), strict=True))
        return pruned

    async def online_here(self, room_key: str, user_key: str) -> bool:
        """Whether a live worker holds a socket of the user in the room."""
        # The user's key lives on the room key's shard (online_join).
        return bool(await self._queue(room_key).call("ZCOUNT", user_key, time.time(), "+inf"))

    async def online_announce(
        self, room_key: str, told_key: str, limit: int, interval: float, ttl: int
    ) -> Announcement:
        """Read who is online for an announcement to the room; "new" when it is
        this worker's to make, and then the room hears no other for `interval`
        seconds (ONLINE_ANNOUNCE_LUA). `told_key` lives on the room key's
        shard, as the user keys do."""
        verdict, wait, count, *first = await run_script(
            self._queue(room_key),
            ONLINE_ANNOUNCE,
            [room_key, told_key],
            [time.time(), limit, max(1, round(interval * 1000)), ttl * 2],
        )
        return Announcement(
            verdict.decode(), int(wait) / 1000, int(count), [m.decode() for m in first]
        )

    async def mark(self, keys: list[str], ttl: int) -> None:
        """Set each key (to 1) for `ttl` seconds."""
        for shard, shard_keys in self._by_shard(keys).items():
            await self.queues[shard].call_many([("SET", key, 1, "EX", ttl) for key in shard_keys])

    async def any_marked(self, keys: list[str]) -> bool:
        """Whether any of the keys is set."""
        for shard, shard_keys in self._by_shard(keys).items():
            if any(await self.queues[shard].call("MGET", *shard_keys)):
                return True
        return False

    async def scan_zset_members(self, pattern: str) -> dict[str, list[str]]:
        """Return the live members of every sorted set whose key matches `pattern`."""
        now = time.time()
        found = {}
        for queue in self.queues:
            cursor = b"0"
            while True:
                cursor, keys = await queue.call("SCAN", cursor, "MATCH", pattern, "COUNT", 500)
                for key in keys:
                    members = await queue.call("ZRANGEBYSCORE", key, now, "+inf")
                    found[key.decode()] = [m.decode() for m in members]
                if cursor == b"0":
                    break
        return found


class MemoryStore:
    """Process-local stand-in with the same behaviour, for one process."""

    def __init__(self) -> None:
        self.zsets: dict[str, dict[str, float]] = defaultdict(dict)
        self.hashes: dict[str, dict[str, int]] = defaultdict(dict)
        # key -> [(time, cost)] let through, and [time] refused, oldest first.
        self.logs: dict[str, list[tuple[float, int]]] = {}
        self.refused: dict[str, list[float]] = {}
        self.marks: dict[str, float] = {}  # key -> when it expires
        # online_announce: key -> ((count, first users), when the room may hear again)
        self.told: dict[str, tuple[tuple[int, tuple[str, ...]], float]] = {}

    async def sliding_window(
        self, key: str, *, limit: int, window: float, cost: int = 1, now: float | None = None
    ) -> tuple[bool, float, int]:
        now = time.time() if now is None else now
        log = [entry for entry in self.logs.get(key, ()) if entry[0] > now - window]
        refused = [at for at in self.refused.get(key, ()) if at > now - window]
        self.logs[key], self.refused[key] = log, refused
        used = sum(entry_cost for _, entry_cost in log)
        if used + cost <= limit:
            log.append((now, cost))
            return True, 0.0, len(log) + len(refused)
        retry_after = window
        for at, entry_cost in log:
            used -= entry_cost
            if used + cost <= limit:
                retry_after = at + window - now
                break
        refused.append(now)
        del refused[:-REFUSED_MAX]
        return False, retry_after, len(log) + len(refused)

    def _live(self, key: str) -> list[str]:
        now = time.time()
        zset = self.zsets[key]
        for member in [m for m, exp in zset.items() if exp <= now]:
            del zset[member]
        return list(zset)

    async def zset_add(self, key: str, member: str, expires_at: float, ttl: int) -> int:
        self.zsets[key][member] = expires_at
        return len(self._live(key))

    async def zset_remove(self, key: str, member: str) -> list[str]:
        self.zsets[key].pop(member, None)
        return self._live(key)

    async def zset_members(self, key: str) -> list[str]:
        return self._live(key)

    async def zset_refresh(
        self, entries: dict[str, set[str]], expires_at: float, ttl: int
    ) -> dict[str, int]:
        pruned = {}
        for key, members in entries.items():
            for member in members:
                self.zsets[key][member] = expires_at
            size = len(self.zsets[key])
            pruned[key] = size - len(self._live(key))
        return pruned

    async def zset_live_counts(self, keys: list[str]) -> dict[str, int]:
        return {key: len(self._live(key)) for key in keys}

    async def ping(self) -> bool:
        return True

    async def hincrby_many(self, counts: dict[tuple[str, str], int]) -> None:
        for (key, field), amount in counts.items():
            self.hashes[key][field] = self.hashes[key].get(field, 0) + amount

    async def hgetall_ints(self, key: str) -> dict[str, int]:
        return dict(self.hashes.get(key, {}))

    async def mark(self, keys: list[str], ttl: int) -> None:
        now = time.time()
        for key in [key for key, until in self.marks.items() if until <= now]:
            del self.marks[key]
        for key in keys:
            self.marks[key] = now + ttl

    async def any_marked(self, keys: list[str]) -> bool:
        now = time.time()
        return any(self.marks.get(key, 0) > now for key in keys)

    async def scan_zset_members(self, pattern: str) -> dict[str, list[str]]:
        return {key: self._live(key) for key in list(self.zsets) if fnmatch(key, pattern)}

    async def online_join(
        self,
        room_key: str,
        user_key: str,
        member: str,
        worker: str,
        expires_at: float,
        ttl: int,
        limit: int,
    ) -> tuple[bool, int, list[str]]:
        added = member not in self._live(room_key)
        self.zsets[room_key][member] = expires_at
        self.zsets[user_key][worker] = expires_at
        live = self._live(room_key)
        return added, len(live), live[:limit]

    async def online_leave(self, room_key: str, user_key: str, member: str, worker: str) -> bool:
        self.zsets[user_key].pop(worker, None)
        if self._live(user_key):
            return False
        return self.zsets[room_key].pop(member, None) is not None

    async def online_refresh(
        self, rooms: dict[str, dict[str, str]], worker: str, expires_at: float, ttl: int
    ) -> dict[str, int]:
        pruned = {}
        for room_key, members in rooms.items():
            for member, user_key in members.items():
                self.zsets[room_key][member] = expires_at
                self.zsets[user_key][worker] = expires_at
            size = len(self.zsets[room_key])
            pruned[room_key] = size - len(self._live(room_key))
        return pruned

    async def online_here(self, room_key: str, user_key: str) -> bool:
        return bool(self._live(user_key))

    async def online_announce(
        self, room_key: str, told_key: str, limit: int, interval: float, ttl: int
    ) -> Announcement:
        live = self._live(room_key)
        first = live[:limit]
        seen = (len(live), tuple(sorted(first)))
        told, due = self.told.get(told_key, (None, 0.0))
        if seen == told:
            return Announcement("same", 0.0, len(live), first)
        now = time.monotonic()
        if now < due:
            return Announcement("wait", due - now, len(live), first)
        self.told[told_key] = (seen, now + interval)
        return Announcement("new", 0.0, len(live), first)


_memory_store = MemoryStore()
# Redis clients belong to one event loop; tests and management commands run several.
_redis_stores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisStore]" = (
    weakref.WeakKeyDictionary()
)


def get_store() -> RedisStore | MemoryStore:
    """Return the store for the running event loop."""
    if not settings.REDIS_HOSTS:
        return _memory_store
    loop = asyncio.get_running_loop()
    store = _redis_stores.get(loop)
    if store is None:
        store = _redis_stores[loop] = RedisStore(settings.REDIS_HOSTS)
    return store
