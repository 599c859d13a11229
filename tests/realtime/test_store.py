"""Presence and rate-limit state spread over Redis shards like the channel layer."""

import time

import pytest
import redis

from harness.redis_server import RedisServer
from realtime.store import RedisStore


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
    for client in store.clients:
        await client.aclose()
