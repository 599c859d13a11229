"""Two Redis shards (REDIS_URLS): room messages, notify() and broadcasts reach
sockets on both workers, for enough rooms that both shards carry traffic, and
/metrics on each worker counts what happened there."""

import asyncio

import pytest
import redis

from harness.checks import METRICS_TOKEN, assert_every_message_once, scrape, send_steadily, total
from harness.clients import NotificationClient, RoomClient, stop_all
from harness.redis_server import RedisServer

pytestmark = pytest.mark.integration

# channels-redis hashes group names with CRC32: among ten consecutive room ids,
# some always land on each of two shards.
ROOMS = 12

NOTIFY = """
from django.contrib.auth import get_user_model
from notifications.services import broadcast, notify
users = get_user_model().objects.filter(username__in=args['names'])
notify(users, title=args['title'])
broadcast(title=args['broadcast'])
print(json.dumps(True))
"""


@pytest.fixture
def second_shard(stack):
    shard = RedisServer(stack.workdir).start()
    yield shard
    shard.stop()


@pytest.fixture
def sharded(stack, workers, second_shard, start_worker):
    """Two workers on both shards (the stack's Redis and a second one)."""
    urls = f"{stack.redis.url},{second_shard.url}"
    env = {"REDIS_URLS": urls, "METRICS_TOKEN": METRICS_TOKEN}
    return urls, [start_worker(**env), start_worker(**env)], [stack.redis, second_shard]


async def test_two_shards_carry_rooms_notify_and_broadcasts_to_both_workers(
    stack, sessions, cookies, sharded
):
    urls, (s1, s2), shards = sharded
    rooms = [sessions["alice"].create_room(f"shard room {n}") for n in range(ROOMS)]
    clients = []
    try:
        senders, everyone = [], []
        for n, slug in enumerate(rooms):
            alice = RoomClient(f"alice@{n}", [s1.url], slug, cookies["alice"])
            bob = RoomClient(f"bob@{n}", [s2.url], slug, cookies["bob"])
            clients += [alice, bob]
            await alice.start()
            await bob.start()
            senders.append(alice)
            everyone.append((alice, bob))
        bells = [
            NotificationClient("carol@1", [s1.url], cookies["carol"]),
            NotificationClient("carol@2", [s2.url], cookies["carol"]),
            NotificationClient("dave@2", [s2.url], cookies["dave"]),
        ]
        clients += bells
        for bell in bells:
            await bell.start()

        before = [scrape(s1), scrape(s2)]
        await asyncio.gather(*(send_steadily(s, 3, 20, "sharded") for s in senders))
        for (alice, bob), sender in zip(everyone, senders, strict=True):
            await sender.wait_acked(15)
            await bob.wait_for_seq(3, 15)
            assert_every_message_once([alice, bob], [alice])

        # notify() and broadcast() from a shell process that knows both shards.
        stack.extra_env["REDIS_URLS"] = urls
        try:
            await asyncio.to_thread(
                stack.shell,
                NOTIFY,
                names=["carol"],
                title="Sharded notify",
                broadcast="Sharded broadcast",
            )
        finally:
            del stack.extra_env["REDIS_URLS"]
        for bell in bells[:2]:
            await bell.wait_for_title("Sharded notify", 15)
        for bell in bells:
            await bell.wait_for_title("Sharded broadcast", 15)
        assert "Sharded notify" not in bells[2].titles()

        # Both shards carried channel-layer traffic.
        for shard in shards:
            channels = redis.Redis(port=shard.port).pubsub_channels()
            assert any(b"chat.room" in name for name in channels), (
                f"shard {shard.port} carries no room"
            )

        # /metrics on each worker counts what happened there.
        after = [scrape(s1), scrape(s2)]
        stored = sum(
            total(a, "relay_messages_stored_total") - total(b, "relay_messages_stored_total")
            for a, b in zip(after, before, strict=True)
        )
        assert stored == ROOMS * 3
        for text, old in zip(after, before, strict=True):
            delivered = total(text, "relay_events_delivered_total", event="chat.message")
            # Each worker holds one socket of each room: every message once per room.
            assert delivered - total(old, "relay_events_delivered_total", event="chat.message") == (
                ROOMS * 3
            )
            assert total(text, "relay_sockets_open", kind="chat") == ROOMS
    finally:
        await stop_all(clients)
