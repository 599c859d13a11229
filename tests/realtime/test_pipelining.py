"""One connection per Redis for the commands of every coroutine (realtime.pipelining),
against a real redis-server."""

import asyncio
import time

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from harness.redis_server import RedisServer
from harness.waiting import wait_for
from realtime.pipelining import CommandQueue, LuaScript, _pack, run_script


class Writes:
    """A queue's connections, counting the writes they make."""

    def __init__(self, url: str, name: str) -> None:
        self.client = aioredis.Redis.from_url(url, client_name=name, socket_timeout=5)
        self.count = 0

    def connect(self):
        connection = self.client.connection_pool.make_connection()
        send = connection.send_packed_command

        async def counted(command, check_health=True):
            self.count += 1
            await send(command, check_health)

        connection.send_packed_command = counted
        return connection


@pytest.fixture
def key():
    return f"pipelining:{time.time_ns()}"


@pytest.fixture
async def queue(redis_url):
    writes = Writes(redis_url, "queue-under-test")
    queue = CommandQueue(writes.connect)
    queue.writes = writes
    await queue.call("PING")  # connected: the writes of its handshake are not counted
    writes.count = 0
    yield queue
    await queue.aclose()
    await writes.client.aclose()


def queue_connections(redis_url: str) -> list[dict]:
    return [
        c for c in redis.Redis.from_url(redis_url).client_list() if c["name"] == "queue-under-test"
    ]


async def test_commands_asked_for_together_share_one_write_and_keep_their_order(
    queue, key, redis_url
):
    replies = await asyncio.gather(*(queue.call("INCR", key) for _ in range(50)))

    assert replies == list(range(1, 51))
    assert queue.writes.count == 1
    assert len(queue_connections(redis_url)) == 1


async def test_commands_asked_for_during_a_round_trip_go_in_the_next_write(queue, key):
    first = queue.call("INCR", key)
    await asyncio.sleep(0)  # the first write is on its way
    rest = [queue.call("INCR", key) for _ in range(10)]

    assert await first == 1
    assert await asyncio.gather(*rest) == list(range(2, 12))
    assert queue.writes.count == 2


async def test_a_command_error_fails_only_its_caller(queue, key):
    await queue.call("SET", key, "not a number")
    good = queue.call("GET", key)
    bad = queue.call("INCR", key)
    many = queue.call_many([("GET", key), ("INCR", key)])
    after = queue.call("STRLEN", key)

    assert await good == b"not a number"
    with pytest.raises(ResponseError, match="not an integer"):
        await bad
    with pytest.raises(ResponseError, match="not an integer"):
        await many
    assert await after == len("not a number")


async def test_an_argument_redis_cannot_take_fails_only_its_caller(queue, key):
    bad = queue.call("SET", key, None)
    good = queue.call("SET", key, 1)

    with pytest.raises(redis.exceptions.DataError):
        await bad
    assert await good is not None
    assert await queue.call("GET", key) == b"1"


async def test_a_transaction_stays_whole_among_other_callers(queue, key):
    others = [queue.call("RPUSH", key, f"other{n}") for n in range(5)]
    replies = queue.transaction([("RPUSH", key, "a"), ("RPUSH", key, "b"), ("LRANGE", key, -2, -1)])
    more = [queue.call("RPUSH", key, f"more{n}") for n in range(5)]

    assert await replies == [6, 7, [b"a", b"b"]]
    await asyncio.gather(*others, *more)
    assert queue.writes.count == 1


async def test_a_script_redis_forgot_is_sent_whole_and_then_by_its_digest(queue, key):
    script = LuaScript(f"return redis.call('INCRBY', KEYS[1], ARGV[1]) -- {key}")
    await queue.call("SCRIPT", "FLUSH")

    assert await run_script(queue, script, [key], [2]) == 2
    assert await queue.call("SCRIPT", "EXISTS", script.sha) == [1]
    assert await run_script(queue, script, [key], [3]) == 5


async def test_a_killed_connection_is_replaced_and_the_next_command_runs_once(
    queue, key, redis_url
):
    assert await queue.call("INCR", key) == 1
    for client in queue_connections(redis_url):
        redis.Redis.from_url(redis_url).client_kill_filter(_id=client["id"])

    assert await queue.call("INCR", key) == 2
    assert await queue.call("GET", key) == b"2"


async def test_a_command_whose_connection_dies_under_it_is_sent_again_on_a_new_one(
    queue, key, redis_url
):
    """BLPOP waits in Redis: its connection is killed while the reply is owed."""
    waiting = asyncio.ensure_future(queue.call("BLPOP", key, 5))
    await wait_for(lambda: any(c["cmd"] == "blpop" for c in queue_connections(redis_url)))
    killed = queue_connections(redis_url)[0]["id"]
    redis.Redis.from_url(redis_url).client_kill_filter(_id=killed)
    # Sent again on a new connection, which waits in its turn.
    await wait_for(
        lambda: any(c["cmd"] == "blpop" and c["id"] != killed for c in queue_connections(redis_url))
    )
    redis.Redis.from_url(redis_url).rpush(key, "x")

    assert await waiting == [key.encode(), b"x"]


async def test_a_command_whose_second_connection_dies_too_fails_with_a_connection_error(
    queue, key, redis_url
):
    waiting = asyncio.ensure_future(queue.call("BLPOP", key, 5))
    for _attempt in range(2):
        await wait_for(lambda: any(c["cmd"] == "blpop" for c in queue_connections(redis_url)))
        for client in queue_connections(redis_url):
            redis.Redis.from_url(redis_url).client_kill_filter(_id=client["id"])

    with pytest.raises(RedisConnectionError):
        await waiting
    # The queue itself goes on.
    assert await queue.call("PING") == b"PONG"


async def test_with_redis_away_a_command_fails_at_once_and_works_when_it_is_back(tmp_path, key):
    server = RedisServer(tmp_path).start()
    client = aioredis.Redis.from_url(server.url, socket_timeout=5, socket_connect_timeout=5)
    queue = CommandQueue(client.connection_pool.make_connection)
    try:
        assert await queue.call("INCR", key) == 1
        server.stop()
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await queue.call("INCR", key)
        assert time.monotonic() - started < 2
        server.start()
        assert await queue.call("PING") == b"PONG"
    finally:
        await queue.aclose()
        await client.aclose()
        server.stop()


async def test_a_redis_that_stops_answering_fails_the_command_at_its_deadline(tmp_path, key):
    """One deadline per round trip, the connection's socket timeout: tried on
    a new connection once, then failed with redis-py's TimeoutError."""
    server = RedisServer(tmp_path).start()
    client = aioredis.Redis.from_url(server.url, socket_timeout=0.3, socket_connect_timeout=5)
    queue = CommandQueue(client.connection_pool.make_connection)
    pausing = redis.Redis.from_url(server.url)
    try:
        assert await queue.call("INCR", key) == 1
        # Redis takes no command from anyone (new connections' too) for 10 s.
        pausing.execute_command("CLIENT", "PAUSE", 10_000, "ALL")
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError, match=r"within 0\.3 s"):
            await queue.call("INCR", key)
        assert time.monotonic() - started < 5  # two deadlines, not the pause
        # The queue goes on once Redis answers again (here: restarted).
        server.stop()
        server.start()
        assert await queue.call("PING") == b"PONG"
    finally:
        pausing.close()
        await queue.aclose()
        await client.aclose()
        server.stop()


async def test_a_caller_that_goes_away_leaves_the_others_their_replies(queue, key):
    gone = asyncio.ensure_future(queue.call("INCR", key))
    staying = queue.call("INCR", key)
    gone.cancel()

    assert await staying == 2
    assert await queue.call("GET", key) == b"2"


async def test_closing_fails_what_is_not_answered_and_the_next_command_reconnects(queue, key):
    waiting = queue.call("BLPOP", key, 5)
    await asyncio.sleep(0.05)
    await queue.aclose()

    with pytest.raises(RedisConnectionError):
        await waiting
    assert await queue.call("PING") == b"PONG"


def test_commands_are_packed_as_redis_py_packs_them():
    commands = [
        ("EVALSHA", "a" * 40, 2, "presence.room.1", "presence.user.1.7", "7", 1.5, 10**20),
        ("PUBLISH", b"channel", memoryview(b"payload"), "é"),
        ("SET", "k", 0.1 + 0.2),
    ]
    for command in commands:
        assert _pack(command) == b"".join(Connection().pack_command(*command))


async def test_a_bool_is_refused_as_redis_py_refuses_it(queue, key):
    with pytest.raises(redis.exceptions.DataError):
        await queue.call("SET", key, True)


async def test_text_that_cannot_be_encoded_fails_only_its_caller(queue, key):
    bad = queue.call("SET", key, "\ud800")
    good = queue.call("SET", key, "fine")

    with pytest.raises(UnicodeEncodeError):
        await bad
    assert await good is not None
    assert await queue.call("GET", key) == b"fine"
