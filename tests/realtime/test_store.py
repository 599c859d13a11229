"""Presence and rate-limit state spread over Redis shards like the channel layer."""

import asyncio
import time

import pytest
import redis

from harness.redis_server import RedisServer
from realtime.store import Announcement, MemoryStore, RedisStore


@pytest.fixture
def second_redis_url(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server.url
    server.stop()


async def test_keys_spread_over_shards_and_every_operation_finds_them(redis_url, second_redis_url):
    store = RedisStore([redis_url, second_redis_url])
    expires = time.time() + 30
    keys = [f"presence:chat.room.{n}" for n in range(20)]
    for key in keys:
        assert await store.zset_add(key, "chan|w1|1|alice", expires, 30) == 1
    assert await store.zset_refresh({key: {"chan|w1|1|alice"} for key in keys}, expires, 30) == {
        key: 0 for key in keys
    }
    for n in range(3):
        assert await store.sliding_window(f"rl:send:{n}", limit=1, window=10) == (True, 0.0, 1)
    await store.hincrby_many({("broadcast:pushed", "7"): 2, ("other:hash", "x"): 1})

    per_shard = [redis.Redis.from_url(url).dbsize() for url in (redis_url, second_redis_url)]
    assert all(count > 0 for count in per_shard) and sum(per_shard) == 20 + 3 + 2
    found = await store.scan_zset_members("presence:chat.room.*")
    assert set(found) == set(keys)
    assert await store.hgetall_ints("broadcast:pushed") == {"7": 2}
    assert await store.ping()
    await store.aclose()


@pytest.fixture
async def two_shards(redis_url, second_redis_url, monkeypatch):
    """A store on two shards whose refresh takes several scripts per shard."""
    monkeypatch.setattr("realtime.store.REFRESH_CHUNK", 5)
    store = RedisStore([redis_url, second_redis_url])
    yield store
    await store.aclose()


async def assert_extended(client, key: str, members, expires_at: float) -> None:
    """Every member of `key`, and nothing else, expires at `expires_at`; the key
    lives on for twice the TTL."""
    stored = await client.zrange(key, 0, -1, withscores=True)
    assert {m.decode(): score for m, score in stored} == dict.fromkeys(members, expires_at)
    assert 30 < await client.ttl(key) <= 60


async def test_the_socket_refresh_extends_every_member_and_prunes_the_expired(two_shards):
    store = two_shards
    prefix = f"registry:refresh-{time.time_ns()}"
    now = time.time()
    entries = {
        f"{prefix}.{n}": {f"chan{n}.{m}|w1|{n}|u{n}" for m in range(n % 4 + 1)} for n in range(30)
    }
    gone = {f"{prefix}.{n}": f"gone{n}|w2|{n}|u{n}" for n in range(0, 30, 3)}
    for key, member in gone.items():
        await store.zset_add(key, member, now - 1, 30)  # a dead worker's, expired

    pruned = await store.zset_refresh(entries, now + 30, 30)

    assert pruned == {key: 1 if key in gone else 0 for key in entries}
    for key, members in entries.items():
        await assert_extended(store._shard(key), key, members, now + 30)


async def test_the_presence_refresh_extends_rooms_and_users_and_prunes_the_expired(two_shards):
    store = two_shards
    prefix = f"presence:refresh-{time.time_ns()}"
    now = time.time()
    rooms = {
        f"{prefix}:room.{r}": {
            f"{u}|user{u}": f"{prefix}:user.{r}.{u}" for u in range(r * 3, r * 3 + r + 1)
        }
        for r in range(12)
    }
    expired_room = f"{prefix}:room.4"
    # A user another worker left behind, expired: the beat prunes it.
    await store.online_join(expired_room, f"{prefix}:user.4.99", "99|left", "w2", now - 1, 30, 0)

    pruned = await store.online_refresh(rooms, "w1", now + 30, 30)

    assert pruned == {room: 1 if room == expired_room else 0 for room in rooms}
    for room, members in rooms.items():
        # A user's key lives on its room's shard (online_join).
        client = store._shard(room)
        await assert_extended(client, room, members, now + 30)
        for user_key in members.values():
            await assert_extended(client, user_key, ["w1"], now + 30)


async def test_live_counts_count_only_live_members_on_every_shard_in_chunks(two_shards):
    store = two_shards  # 5 keys a script: 23 keys take several per shard
    prefix = f"registry:counts-{time.time_ns()}"
    now = time.time()
    keys = [f"{prefix}:{n}" for n in range(23)]
    for n, key in enumerate(keys):
        for member in range(n % 4):  # 0 to 3 live members
            await store.zset_add(key, f"live-{member}", now + 30, 30)
        await store.zset_add(key, "gone", now - 1, 30)  # expired, not yet pruned
    assert await store.zset_live_counts(keys) == {key: n % 4 for n, key in enumerate(keys)}
    assert await store.zset_live_counts([f"{prefix}:missing"]) == {f"{prefix}:missing": 0}
    assert await store.zset_live_counts([]) == {}


async def turns_to_announce(store: RedisStore | MemoryStore) -> None:
    """What `online_announce` answers as a room changes, interval 0.3 s."""
    prefix = f"presence:told-{time.time_ns()}"
    room, told = f"{prefix}:room", f"{prefix}:told"
    now = time.time()

    async def join(user: int, expires_at: float) -> None:
        member, user_key = f"{user}|u{user}", f"{prefix}:user.{user}"
        await store.online_join(room, user_key, member, "w1", expires_at, 30, 0)

    async def turn() -> Announcement:
        return await store.online_announce(room, told, 100, 0.3, 30)

    await join(1, now + 30)
    first = await turn()
    announced_at = time.monotonic()
    assert (first.verdict, first.count, first.first) == ("new", 1, ["1|u1"])
    assert (await turn()).verdict == "same"

    # A change within the interval waits for the rest of it...
    await join(2, now + 30)
    waiting = await turn()
    assert waiting.verdict == "wait" and 0 < waiting.wait <= 0.3, waiting
    assert waiting.count == 2
    # ...and needs no announcement once the room is back as announced.
    await store.online_leave(room, f"{prefix}:user.2", "2|u2", "w1")
    assert (await turn()).verdict == "same"

    await join(2, now + 30)
    while (again := await turn()).verdict == "wait":
        await asyncio.sleep(again.wait)
    assert time.monotonic() - announced_at >= 0.3 - 0.01
    assert (again.verdict, again.count, sorted(again.first)) == ("new", 2, ["1|u1", "2|u2"])

    # Neither an expired entry nor a heartbeat's new expiry (which reorders the
    # users by score) changes what the room would hear.
    await join(3, now - 1)
    await join(1, now + 60)
    assert (await turn()).verdict == "same"


async def test_a_room_is_announced_once_per_interval_and_only_when_it_changed(two_shards):
    await turns_to_announce(two_shards)


async def test_the_process_store_answers_turns_to_announce_as_redis_does():
    await turns_to_announce(MemoryStore())
