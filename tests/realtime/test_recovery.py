"""After a Redis outage each socket catches up on everything committed up to
the moment its subscriptions are live again: the unlucky interleavings are
forced here (the resubscription held while messages are stored and published),
not hoped for. And one socket's slow event handler never delays another's."""

import asyncio

import pytest
import pytest_asyncio
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from redis import exceptions as redis_errors
from redis.asyncio.client import PubSub

from chat import services
from chat.consumers import ChatConsumer
from config import settings as django_settings_module
from harness.redis_server import RedisServer
from harness.sockets import db, open_room, receive
from notifications import consumers as notification_consumers
from notifications import events as notification_events
from notifications.services import notify

pytestmark = pytest.mark.django_db(transaction=True)


async def wait_for(predicate, what: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis of this test's own, to stop and start; the layer and the store use it."""
    server = RedisServer(tmp_path).start()
    settings.REDIS_URL = server.url
    settings.REDIS_HOSTS = [server.url]
    settings.CHANNEL_LAYERS = {"default": django_settings_module.channel_layer_config([server.url])}
    channel_layers.backends = {}
    yield server
    server.stop()
    channel_layers.backends = {}


class HeldResubscription:
    """Hold redis-py's resubscription after a reconnect until released."""

    def __init__(self, monkeypatch) -> None:
        self.held = asyncio.Event()
        self.released = asyncio.Event()
        self.released.set()  # the first connect passes
        original = PubSub.on_connect

        async def on_connect(pubsub, connection):
            if not self.released.is_set():
                self.held.set()
                await self.released.wait()
            await original(pubsub, connection)

        # Before the first subscribe: redis-py keeps a reference to the method.
        monkeypatch.setattr(PubSub, "on_connect", on_connect)

    async def restart_and_hold(self, redis_server: RedisServer) -> None:
        self.released.clear()
        await asyncio.to_thread(redis_server.restart)
        await wait_for(self.held.is_set, "the pubsub connection to reconnect")

    def release(self) -> None:
        self.released.set()


@pytest_asyncio.fixture
async def held(monkeypatch, own_redis):
    return HeldResubscription(monkeypatch)


async def test_layer_tells_listeners_only_once_its_subscriptions_are_live(own_redis, held):
    layer = get_channel_layer()
    heard: list[set[str]] = []
    layer.add_resubscribed_listener(heard.append)
    channel = await layer.new_channel()
    got: list[int] = []
    layer.register_direct(channel, lambda event: got.append(event["n"]))
    await layer.group_add("room.9", channel)
    await layer.group_send("room.9", {"type": "x", "n": 1})
    await wait_for(lambda: got == [1], "the first event")

    await held.restart_and_hold(own_redis)
    # Redis answers, but the subscription is not back: whatever is published
    # now is lost to this process, and nobody may think it is caught up.
    await layer.group_send("room.9", {"type": "x", "n": 2})
    assert heard == []
    held.release()
    await wait_for(lambda: heard, "the resubscription to be confirmed")
    assert heard == [{channel}]
    await layer.group_send("room.9", {"type": "x", "n": 3})
    await wait_for(lambda: got == [1, 3], "live delivery after the reconnect")


async def test_room_socket_gets_what_was_stored_while_its_resubscription_was_held(
    own_redis, held, connect_ws, public_room, alice, bob, monkeypatch
):
    resyncs_before_release = []
    original_resync = ChatConsumer.resync

    async def resync(consumer):
        resyncs_before_release.append(not held.released.is_set())
        await original_resync(consumer)

    monkeypatch.setattr(ChatConsumer, "resync", resync)
    watcher, _ = await open_room(connect_ws, public_room, bob)
    await db(services.message_create)(room=public_room, author=alice, body="before", client_id="b")
    assert (await receive(watcher, "message"))["message"]["seq"] == 1

    await held.restart_and_hold(own_redis)
    # Committed and published while the subscription is down: lost live.
    await db(services.message_create)(room=public_room, author=alice, body="gap", client_id="g")
    held.release()
    frame = await receive(watcher, "message", timeout=10)
    assert (frame["message"]["seq"], frame["message"]["body"]) == (2, "gap")
    assert resyncs_before_release == [False]
    # And live again on the same socket.
    await db(services.message_create)(room=public_room, author=alice, body="after", client_id="a")
    assert (await receive(watcher, "message"))["message"]["seq"] == 3


async def test_bell_gets_what_was_stored_while_its_resubscription_was_held(
    own_redis, held, connect_ws, alice
):
    bell, connected, _ = await connect_ws("/ws/notifications/", alice)
    assert connected
    assert (await bell.receive_json_from(timeout=5))["type"] == "hello"

    await held.restart_and_hold(own_redis)
    rows = await db(notify)([alice], title="while away")
    held.release()
    frame = await bell.receive_json_from(timeout=10)
    assert frame["type"] == "notification"
    assert frame["notification"]["id"] == rows[0].pk
    assert await bell.receive_json_from(timeout=5) == {"type": "unread", "count": 1}


async def test_resync_closes_a_socket_whose_login_ended_while_redis_was_away(
    own_redis, held, connect_ws, public_room, alice, bob
):
    watcher, _ = await open_room(connect_ws, public_room, bob)
    await held.restart_and_hold(own_redis)
    # The logout's event is published while this process is not subscribed.
    await db(lambda: bob.__class__.objects.filter(pk=bob.pk).update(is_active=False))()
    await db(services.message_create)(room=public_room, author=alice, body="gap", client_id="g")
    held.release()
    output = await watcher.receive_output(timeout=10)
    while output["type"] != "websocket.close":
        assert output["type"] == "websocket.send"
        assert '"gap"' not in output["text"]  # nothing is sent before the check
        output = await watcher.receive_output(timeout=10)
    assert output["code"] == 4401


async def test_a_slow_event_handler_delays_only_its_own_socket(connect_ws, alice, bob, monkeypatch):
    release = asyncio.Event()
    original = notification_consumers._group_ids

    async def slow_group_ids(user):
        if user.pk == alice.pk and not release.is_set():
            await release.wait()  # this socket's handler waits on "the database"
        return await original(user)

    slow, _, _ = await connect_ws("/ws/notifications/", alice)
    fast, _, _ = await connect_ws("/ws/notifications/", bob)
    for bell in (slow, fast):
        assert (await bell.receive_json_from(timeout=5))["type"] == "hello"
    monkeypatch.setattr(notification_consumers, "_group_ids", slow_group_ids)

    layer = get_channel_layer()
    await layer.group_send(
        notification_events.recipient_group(alice.pk), {"type": "notifications.groups_changed"}
    )
    rows = await db(notify)([alice, bob], title="for both")
    by_user = {row.recipient_id: row.pk for row in rows}
    frame = await fast.receive_json_from(timeout=5)
    assert frame["notification"]["id"] == by_user[bob.pk]
    assert await slow.receive_nothing(timeout=0.2)  # held behind its own handler
    release.set()
    frame = await slow.receive_json_from(timeout=5)
    assert frame["notification"]["id"] == by_user[alice.pk]
    assert (
        settings.CHANNEL_LAYERS["default"]["BACKEND"] == "realtime.layers.LocalFanoutChannelLayer"
    )


@pytest.mark.parametrize("path", ["/ws/chat/general/", "/ws/notifications/"])
async def test_a_socket_opened_while_redis_is_away_is_told_to_come_back(
    own_redis, connect_ws, public_room, alice, path
):
    """Its subscriptions would fail and nobody would retry them: a socket
    opened then would never hear a live event. 4503: reconnect later."""
    await asyncio.to_thread(own_redis.stop)
    socket, connected, _ = await connect_ws(path, alice)
    assert connected
    output = await socket.receive_output(timeout=10)
    while output["type"] != "websocket.close":
        output = await socket.receive_output(timeout=10)
    assert output["code"] == 4503


async def test_a_subscription_that_fails_once_is_tried_again(
    connect_ws, public_room, alice, monkeypatch
):
    """A connection the layer kept across a Redis restart fails on its first
    use: the socket tries once more instead of being refused with 4503."""
    layer = get_channel_layer()
    group_add = layer.group_add
    failures = []

    async def fails_once(group, channel):
        if not failures:
            failures.append(group)
            raise redis_errors.ConnectionError("stale connection")
        await group_add(group, channel)

    monkeypatch.setattr(layer, "group_add", fails_once)
    socket, hello = await open_room(connect_ws, public_room, alice)
    assert hello["type"] == "hello"
    assert failures  # the failure did happen
    await socket.disconnect()
