"""Frames the server builds from many long messages must fit Daphne's outgoing
limit (1 MiB, `websocket_max_message_size`): otherwise sending the frame raises
(autobahn's PayloadExceededError), the consumer dies, the socket closes with
1011, and a client that reconnects and asks again is refused the same way
forever. Bodies are limited in characters (4,000), frames are UTF-8 bytes after
JSON escaping: up to 6 bytes a character.
"""

import asyncio

import pytest

from harness.checks import wait_until

pytestmark = pytest.mark.integration

FILL = """
from django.contrib.auth import get_user_model
from chat import services
from chat.models import Room
room = Room.objects.get(slug=args['slug'])
alice = get_user_model().objects.get(username='alice')
for n in range(args['count']):
    services.message_create(room=room, author=alice, body=args['body'], client_id=f'fill-{n}')
print(json.dumps(room.pk))
"""

# 3 bytes a character in UTF-8: 100 of them are about 1.2 MB.
LONG_CJK = "漢字" * 2000
# Each escaped as \u0001 in JSON, 6 bytes: 50 of them are about 1.2 MB.
CONTROL = "\x01" * 4000


async def fill(stack, slug: str, count: int, body: str) -> None:
    await asyncio.to_thread(stack.shell, FILL, slug=slug, count=count, body=body)


async def test_resume_after_100_long_messages_gets_its_hello(stack, workers, room, clients):
    a, _ = workers
    await fill(stack, room, 100, LONG_CJK)
    # ?after=0: the 100 messages in one hello. No reconnecting: with the bug
    # every attempt ends in 1011.
    late = clients.room_client("bob", room, a, fallback=False, reconnect=False)
    await late.start(timeout=10)
    await late.wait_for_seq(100, 10)


async def test_history_of_100_long_messages_is_answered(stack, workers, room, clients):
    a, _ = workers
    await fill(stack, room, 100, LONG_CJK)
    reader = await clients.room("bob", room, a, fill_gaps=False, reconnect=False, start_after=100)
    await reader.send_json({"type": "history", "before_seq": 101, "limit": 100})
    await wait_until(lambda: reader.history_frames or reader.closes, 10, "an answer")
    assert not reader.closes, reader.closes
    assert reader.history_frames[0]["messages"]


async def test_room_of_50_messages_of_control_characters_can_still_be_joined(
    stack, workers, room, clients
):
    a, _ = workers
    # Any member can post these (a 4,000-character body is allowed), and then
    # nobody can open the room: the default hello holds the latest 50.
    await fill(stack, room, 50, CONTROL)
    newcomer = clients.room_client("bob", room, a, fallback=False, plain_join=True, reconnect=False)
    await newcomer.start(timeout=10)
    assert newcomer.hellos[0]["messages"]
