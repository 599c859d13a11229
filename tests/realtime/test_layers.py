"""realtime.layers: group events decoded once per process and handed to local
consumers directly; consumers without a direct handler keep the stock queue."""

import asyncio

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer

from chat import services
from config.settings import channel_layer_config
from harness.processes import free_port
from harness.waiting import wait_for
from realtime.layers import InProcessChannelLayer, LocalFanoutChannelLayer


async def test_group_event_is_decoded_once_and_called_in_order_for_each_member(monkeypatch):
    layer = get_channel_layer()
    assert isinstance(layer, LocalFanoutChannelLayer)
    decodes = []
    original = layer.deserialize
    monkeypatch.setattr(layer, "deserialize", lambda data: decodes.append(1) or original(data))
    received: dict[str, list] = {}
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        received[channel] = []

        def handler(event, channel=channel):
            received[channel].append(event["n"])

        layer.register_direct(channel, handler)
        await layer.group_add("room.1", channel)

    for n in range(5):
        await layer.group_send("room.1", {"type": "chat.message", "n": n})
    await wait_for(lambda: all(len(r) == 5 for r in received.values()))
    assert all(r == [0, 1, 2, 3, 4] for r in received.values())
    assert len(decodes) == 5  # once per event, not once per member


async def test_members_without_a_handler_get_the_stock_queue():
    layer = get_channel_layer()
    queued = await layer.new_channel()
    await layer.group_add("room.2", queued)
    await layer.group_send("room.2", {"type": "chat.message", "n": 1})
    assert await asyncio.wait_for(layer.receive(queued), 5) == {"type": "chat.message", "n": 1}


async def test_a_failing_handler_does_not_stop_the_others():
    layer = get_channel_layer()
    bad, good = await layer.new_channel(), await layer.new_channel()
    got = []

    def explode(event):
        raise RuntimeError("broken socket")

    def keep(event):
        got.append(event["n"])

    layer.register_direct(bad, explode)
    layer.register_direct(good, keep)
    for channel in (bad, good):
        await layer.group_add("room.3", channel)
    await layer.group_send("room.3", {"type": "chat.message", "n": 7})
    await wait_for(lambda: got == [7])


async def test_forgotten_and_orphaned_channels_leave_redis(redis_url):
    layer = get_channel_layer()
    kept, forgotten, orphan = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("room.4", kept)
    await layer.group_add("room.4", orphan)
    await layer.forget_channel(forgotten)
    # What an interrupted cleanup leaves: nothing local wants it, Redis has it.
    loop_layer = layer._get_layer()
    loop_layer.channels.pop(orphan)
    await layer.group_discard("room.4", orphan)
    r = redis.Redis.from_url(redis_url)
    # Redis answers PUBSUB CHANNELS on a connection of its own: what the layer
    # wrote on its connection may not have been read yet.
    await wait_for(lambda: orphan.encode() in r.pubsub_channels(), "the orphan's subscription")
    await wait_for(
        lambda: forgotten.encode() not in r.pubsub_channels(), "the forgotten one's unsubscribe"
    )
    for shard in loop_layer._shards:
        await shard._drop_orphans()
    await wait_for(lambda: orphan.encode() not in r.pubsub_channels(), "the orphan's unsubscribe")
    left = set(r.pubsub_channels())
    assert kept.encode() in left
    assert b"asgi__group__room.4" in left


@pytest.mark.django_db(transaction=True)
async def test_without_redis_sockets_still_take_the_direct_path(
    settings, connect_ws, public_room, alice, bob
):
    """Development without REDIS_URL: one process, and the same delivery path
    as production (direct handlers, forwarders), not Channels' queue per socket."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.layers.InProcessChannelLayer"}}
    channel_layers.backends = {}
    layer = get_channel_layer()
    assert isinstance(layer, InProcessChannelLayer)
    watcher, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/", bob)
    assert connected
    assert (await watcher.receive_json_from(timeout=5))["type"] == "hello"
    assert len(layer.direct) == 1  # bob's socket registered its direct handler

    stored = await database_sync_to_async(services.message_create)(
        room=public_room, author=alice, body="hi", client_id="c-1"
    )
    assert stored.push.delivered
    frame = await watcher.receive_json_from(timeout=5)
    while frame["type"] != "message":  # presence may come first
        frame = await watcher.receive_json_from(timeout=5)
    assert (frame["message"]["seq"], frame["message"]["body"]) == (1, "hi")
    assert all(queue.empty() for queue in layer.channels.values())  # none the stock way

    await watcher.disconnect()
    await wait_for(lambda: not layer.direct)  # the socket's channel is forgotten


async def test_a_direct_consumer_needs_no_subscription_of_its_own(redis_url):
    layer = get_channel_layer()
    channel = "socket.direct-only"  # named, as realtime.transport names a socket
    got = []
    layer.register_direct(channel, lambda event: got.append(event["n"]))
    await layer.group_add("room.4", channel)
    await layer.group_send("room.4", {"type": "chat.message", "n": 1})
    await wait_for(lambda: got == [1])
    subscribed = {name.decode() for name in redis.Redis.from_url(redis_url).pubsub_channels()}
    assert any(name.endswith("room.4") for name in subscribed)
    assert not any(channel in name for name in subscribed)
    await layer.group_discard("room.4", channel)
    await layer.forget_channel(channel)


async def test_membership_changes_reach_the_next_event():
    # The layer keeps each group's members prepared between events: a socket
    # that leaves (a ban, a close) must not get the next one, one that joins must.
    layer = get_channel_layer()
    got: dict[str, list] = {"stays": [], "leaves": [], "forgotten": [], "joins": []}
    for name in got:
        layer.register_direct(
            f"socket.{name}", lambda event, name=name: got[name].append(event["n"])
        )
    for name in ("stays", "leaves", "forgotten"):
        await layer.group_add("room.5", f"socket.{name}")

    async def send(n: int) -> None:
        await layer.group_send("room.5", {"type": "chat.message", "n": n})
        await wait_for(lambda: got["stays"][-1:] == [n])

    await send(1)
    await layer.group_discard("room.5", "socket.leaves")
    await send(2)
    await layer.forget_channel("socket.forgotten")  # still in the group's set
    await send(3)
    await layer.group_add("room.5", "socket.joins")
    await send(4)
    assert got == {"stays": [1, 2, 3, 4], "leaves": [1], "forgotten": [1, 2], "joins": [4]}
    for name in ("stays", "forgotten", "joins"):
        await layer.group_discard("room.5", f"socket.{name}")
        await layer.forget_channel(f"socket.{name}")


async def test_many_group_events_arrive_in_order_per_group_across_shards(redis_url):
    layer = LocalFanoutChannelLayer(hosts=[redis_url, redis_url])  # two shards
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    groups = [f"room.{name}" for name in names]
    got: dict[str, list] = {group: [] for group in groups}
    for group in groups:
        channel = f"socket.many-{group}"
        layer.register_direct(channel, lambda event, group=group: got[group].append(event["n"]))
        await layer.group_add(group, channel)
    loop_layer = layer._get_layer()
    shards = {loop_layer._get_shard(loop_layer._get_group_channel_name(g)) for g in groups}
    assert len(shards) == 2  # the events of one call go through both

    await layer.group_send_many(
        [(group, {"type": "chat.message", "n": n}) for n in range(5) for group in groups]
    )
    await layer.group_send_many([(groups[0], {"type": "chat.message", "n": 5})])

    await wait_for(lambda: sum(map(len, got.values())) == 41)
    assert got == {group: [0, 1, 2, 3, 4] + ([5] if group == groups[0] else []) for group in groups}
    await layer.flush()


async def test_the_in_process_layer_sends_many_in_order():
    layer = InProcessChannelLayer()
    got = []
    layer.register_direct("socket.one", lambda event: got.append(event["n"]))
    await layer.group_add("room.one", "socket.one")
    await layer.group_send_many([("room.one", {"type": "chat.message", "n": n}) for n in range(3)])
    assert got == [0, 1, 2]


def _recorder(calls: list):
    """A direct handler and its many-handler, recording each call."""
    return (lambda event: calls.append([event["n"]])), (
        lambda events: calls.append([event["n"] for event in events])
    )


@pytest.mark.parametrize("kind", ["redis", "in_process"])
async def test_a_run_of_one_groups_events_reaches_each_socket_in_one_call(kind, redis_url):
    # A batch of sends in one room is one message on the layer; each socket
    # takes it in one call (and writes its frames with one send()). Runs are
    # never reordered across groups.
    layer = (
        LocalFanoutChannelLayer(hosts=[redis_url]) if kind == "redis" else InProcessChannelLayer()
    )
    calls: dict[str, list] = {"room.a": [], "room.b": [], "plain": []}
    for group in ("room.a", "room.b"):
        layer.register_direct(f"socket.{group}", *_recorder(calls[group]))
        await layer.group_add(group, f"socket.{group}")
    # A handler that takes one event at a time still gets each, in order.
    layer.register_direct("socket.plain", lambda event: calls["plain"].append([event["n"]]))
    await layer.group_add("room.a", "socket.plain")
    queued = await layer.new_channel()
    await layer.group_add("room.a", queued)

    sends = [("room.a", 0), ("room.a", 1), ("room.a", 2), ("room.b", 3), ("room.a", 4)]
    await layer.group_send_many([(g, {"type": "chat.message", "n": n}) for g, n in sends])

    await wait_for(lambda: len(calls["room.a"]) == 2 and len(calls["plain"]) == 4)
    assert calls == {"room.a": [[0, 1, 2], [4]], "room.b": [[3]], "plain": [[0], [1], [2], [4]]}
    # A consumer on the stock queue gets each event as its own message.
    received = [await asyncio.wait_for(layer.receive(queued), 5) for _ in range(4)]
    assert [event["n"] for event in received] == [0, 1, 2, 4]
    assert all(event["type"] == "chat.message" for event in received)
    await layer.flush()


async def test_publishes_survive_redis_dropping_the_publishing_connection(redis_url):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    got: list[int] = []
    layer.register_direct(channel, lambda event: got.append(event["n"]))
    await layer.group_add("room.publisher", channel)
    await layer.group_send("room.publisher", {"type": "chat.message", "n": 1})
    await wait_for(lambda: got == [1])
    # What a Redis restart does to every connection: the publishing one is
    # dropped between two publishes, and its next use finds it dead.
    r = redis.Redis.from_url(redis_url)
    publishers = [
        client["id"]
        for client in r.client_list()
        if client["cmd"] == "publish" and client["name"] == ""
    ]
    assert publishers
    for client_id in publishers:
        r.client_kill_filter(_id=client_id)
    await layer.group_send("room.publisher", {"type": "chat.message", "n": 2})
    # A copy of 2 sent twice would come before 3, on the same connection.
    await layer.group_send("room.publisher", {"type": "chat.message", "n": 3})
    await wait_for(lambda: got[-1:] == [3])
    assert got == [1, 2, 3]


async def test_the_messages_one_read_brings_are_taken_in_order_with_redis_pys_own_replies(
    redis_url, monkeypatch
):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    got: list[int] = []
    layer.register_direct(channel, lambda event: got.append(event["n"]))
    await layer.group_add("room.parsed", channel)
    loop_layer = layer._get_layer()
    group_channel = loop_layer._get_group_channel_name("room.parsed")
    shard = loop_layer._get_shard(group_channel)
    await shard.subscribe("parsed.extra")
    pubsub = shard._pubsub
    # Hold the receiving loop at its next read, so that what Redis sends
    # meanwhile waits in the socket, and one read brings it all.
    read, gate, parked = pubsub.get_message, asyncio.Event(), asyncio.Event()
    returned: list[dict] = []

    async def gated(**kwargs):
        parked.set()
        await gate.wait()
        message = await read(**kwargs)
        if message is not None:
            returned.append(message)
        return message

    monkeypatch.setattr(pubsub, "get_message", gated)
    await asyncio.wait_for(parked.wait(), 5)
    publisher = redis.Redis.from_url(redis_url)

    def publish(numbers: range) -> None:
        with publisher.pipeline(transaction=False) as pipe:
            for n in numbers:
                pipe.publish(group_channel, layer.serialize({"type": "chat.message", "n": n}))
            pipe.execute()

    publish(range(50))
    # Its confirmation comes among the messages: redis-py's bookkeeping must see it.
    await shard.unsubscribe("parsed.extra")
    publish(range(50, 100))
    gate.set()
    await wait_for(lambda: len(got) == 100)
    assert got == list(range(100))
    await wait_for(lambda: not pubsub.pending_unsubscribe_channels)
    assert b"parsed.extra" not in pubsub.channels
    # The first message through get_message, the ones parsed with it taken as they are.
    assert len(returned) <= 2
    await layer.group_discard("room.parsed", channel)


def _subscribe_commands(r: redis.Redis) -> int:
    return r.info("commandstats").get("cmdstat_subscribe", {}).get("calls", 0)


async def test_channels_asked_for_together_are_subscribed_in_one_command(redis_url):
    """A crowd joining: each socket subscribes its user's group. Those asked for
    while one SUBSCRIBE is on its way go in the next, and every caller returns
    with its channel live."""
    layer = get_channel_layer()
    r = redis.Redis.from_url(redis_url)
    got: dict[int, list] = {n: [] for n in range(50)}
    for n in range(50):
        layer.register_direct(f"socket.crowd-{n}", lambda event, n=n: got[n].append(event["n"]))
    before = _subscribe_commands(r)
    await asyncio.gather(
        *(layer.group_add(f"user.crowd-{n}", f"socket.crowd-{n}") for n in range(50))
    )
    assert _subscribe_commands(r) - before <= 2
    subscribed = {name.decode() for name in r.pubsub_channels()}
    assert (
        sum(name.endswith(tuple(f"user.crowd-{n}" for n in range(50))) for name in subscribed) == 50
    )
    for n in range(50):
        await layer.group_send(f"user.crowd-{n}", {"type": "chat.message", "n": n})
    await wait_for(lambda: all(got[n] == [n] for n in range(50)))


async def test_a_group_left_before_its_subscribe_went_is_not_subscribed(redis_url):
    layer = get_channel_layer()
    layer.register_direct("socket.brief", lambda event: None)
    joining = asyncio.ensure_future(layer.group_add("user.brief", "socket.brief"))
    await asyncio.sleep(0)  # its subscription asked for, not sent yet
    await layer.group_discard("user.brief", "socket.brief")
    await joining
    r = redis.Redis.from_url(redis_url)
    assert not any(name.endswith(b"user.brief") for name in r.pubsub_channels())
    # Asked for again, it is subscribed.
    await layer.group_add("user.brief", "socket.brief")
    assert any(name.endswith(b"user.brief") for name in r.pubsub_channels())


async def test_every_caller_of_a_failed_subscribe_has_its_error():
    """Redis not there: each group_add waiting on the SUBSCRIBE raises (the
    socket is refused and its client comes back), and nothing counts as subscribed."""
    config = channel_layer_config([f"redis://127.0.0.1:{free_port()}"])["CONFIG"]
    layer = LocalFanoutChannelLayer(**config)
    for n in range(3):
        layer.register_direct(f"socket.away-{n}", lambda event: None)
    outcomes = await asyncio.gather(
        *(layer.group_add(f"user.away-{n}", f"socket.away-{n}") for n in range(3)),
        return_exceptions=True,
    )
    assert all(
        isinstance(outcome, (redis.exceptions.ConnectionError, OSError)) for outcome in outcomes
    )
    assert not any(shard._subscribed_to for shard in layer._get_layer()._shards)
    await layer.flush()
