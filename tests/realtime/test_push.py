"""Pushes from sync code (realtime.push): where no event loop waits on the
thread (a task worker, a management command), they share one loop per process
and its Redis connections; where one does (a sync view, a db_call), they go
through that loop. Real Redis, real layer."""

import asyncio
import os
import time

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.db import connection

from realtime import push

# Committed for real: a push goes once the transaction commits, at once outside one.
pytestmark = pytest.mark.django_db(transaction=True)

GROUP = "push-test"


class _Connections:
    """Connections Redis accepted so far (counted over a connection of its own)."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url)

    def received(self) -> int:
        return self.client.info("stats")["total_connections_received"]

    def open(self) -> int:
        return self.client.info("clients")["connected_clients"]


def _push_each(count: int) -> list[push.Push]:
    # No transaction: each goes at once, as from a task or a command.
    return [push.send_on_commit(GROUP, {"type": "test.item", "n": n}) for n in range(count)]


def _push_each_in_a_thread(count: int) -> list[push.Push]:
    """_push_each in a thread of an executor, which then gives its database
    connection back (nothing else closes it: the pool would run dry)."""
    try:
        return _push_each(count)
    finally:
        connection.close()


async def _listening():
    """A channel in GROUP on this loop's layer, which has published once (its
    connections are open)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    await layer.group_send("push-test-nobody", {"type": "test.item", "n": -1})
    return layer, channel


async def _received(layer, channel, count: int) -> list[int]:
    return [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(count)]


async def test_pushes_from_a_thread_no_loop_waits_on_share_one_connection(redis_url):
    layer, channel = await _listening()
    connections = _Connections(redis_url)
    before = connections.received()

    # A plain thread, as a task worker's: asgiref knows no loop that waits on it.
    pushes = await asyncio.get_running_loop().run_in_executor(None, _push_each_in_a_thread, 20)

    assert all(p.delivered for p in pushes)
    assert await _received(layer, channel, 20) == list(range(20))
    # async_to_sync would have made a loop, and a connection, for each push.
    assert connections.received() - before <= 1


async def test_a_push_from_a_thread_the_servers_loop_waits_on_goes_through_that_loop(redis_url):
    layer, channel = await _listening()
    connections = _Connections(redis_url)
    before = connections.received()

    pushes = await sync_to_async(_push_each_in_a_thread, thread_sensitive=False)(5)

    assert all(p.delivered for p in pushes)
    assert await _received(layer, channel, 5) == list(range(5))
    # The listening loop's connection carried them: none was opened.
    assert connections.received() == before


def test_a_layer_made_anew_closes_the_old_ones_connections_on_the_push_loop(redis_url):
    connections = _Connections(redis_url)
    assert _push_each(1)[0].delivered
    before = connections.open()
    for _ in range(5):
        channel_layers.backends = {}  # as when CHANNEL_LAYERS changes
        assert _push_each(1)[0].delivered
    assert connections.open() == before


def test_a_push_goes_even_when_the_replaced_layers_connections_fail_to_close(
    redis_url, monkeypatch
):
    assert _push_each(1)[0].delivered
    replaced = get_channel_layer()

    async def fail() -> None:
        raise OSError("closing failed")

    monkeypatch.setattr(replaced, "close_loop_layer", fail)
    channel_layers.backends = {}

    assert _push_each(1)[0].delivered


def test_a_forked_child_pushes_from_a_loop_of_its_own(redis_url):
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.psubscribe(f"*{GROUP}*")  # the group's channel, whatever its prefix
    assert listener.get_message(timeout=5)["type"] == "psubscribe"
    assert _push_each(1)[0].delivered  # the parent's push loop runs

    child = os.fork()
    # The child shares the parent's database connection: it must not close it.
    if child == 0:  # pragma: no cover - the child's outcome is its exit status
        try:
            os._exit(0 if _push_each(1)[0].delivered else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(child, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.02)
    if done == (0, 0):
        os.kill(child, 9)
        os.waitpid(child, 0)
        pytest.fail("the forked child's push did not finish")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    published = 0  # the parent's push and the child's
    deadline = time.monotonic() + 10
    while published < 2 and time.monotonic() < deadline:
        message = listener.get_message(timeout=1)
        published += message is not None and message["type"] == "pmessage"
    assert published == 2
