"""realtime.stream: the resumable stream's cursors, and a socket that is never
sent the same seq twice however the layer repeats it."""

import pytest
from channels.layers import get_channel_layer

from chat import events, services
from harness.sockets import assert_silent, db, open_room, receive
from realtime.stream import GaplessCursor, SparseCursor, after_param


def test_gapless_cursor_takes_each_seq_once_in_any_order():
    cursor = GaplessCursor(3)
    assert not cursor.take(2) and not cursor.take(3)  # the snapshot had them
    assert cursor.take(5) and cursor.take(6)
    assert cursor.position == 3  # 4 is still missing: a resume starts after 3
    assert not cursor.take(5)
    assert cursor.take(4)
    assert (cursor.position, cursor.above) == (6, set())
    cursor.record(7)  # an acknowledgement sent whether or not it was given
    assert cursor.position == 7 and not cursor.take(7)


def test_sparse_cursor_remembers_a_bounded_number_of_ids():
    cursor = SparseCursor(100, memory=2)
    assert not cursor.take(100)
    assert cursor.take(205) and cursor.take(310)
    assert not cursor.take(205)
    assert cursor.take(415)  # forgets 205, the oldest
    assert cursor.take(205)
    assert cursor.position == 100  # ids have gaps: the resume point stays the snapshot's


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", (None, False)),
        (b"after=0", (0, True)),
        (b"after=42&x=1", (42, True)),
        (b"after=9223372036854775807", (2**63 - 1, True)),
        (b"after=9223372036854775808", (None, True)),
        (b"after=-1", (None, True)),
        (b"after=%D9%A3", (None, True)),  # an Arabic-Indic digit: not ASCII
        (b"after=" + b"9" * 5000, (None, True)),
    ],
)
def test_after_param(query, expected):
    assert after_param(query) == expected


@pytest.mark.django_db(transaction=True)
async def test_a_repeated_room_event_reaches_a_socket_once(connect_ws, public_room, alice, bob):
    watcher, _ = await open_room(connect_ws, public_room, bob)
    stored = await db(services.message_create)(
        room=public_room, author=alice, body="once", client_id="c-1"
    )
    assert (await receive(watcher, "message"))["message"]["seq"] == 1
    # The same event again (a retried publish, an overlap with a catch-up).
    event = {"type": events.MESSAGE, "seq": 1, "text": '{"type":"message","repeated":true}'}
    await get_channel_layer().group_send(events.room_group(public_room.pk), event)
    # Published after the repeat, on the same group: it would come second.
    await db(services.message_create)(room=public_room, author=alice, body="next", client_id="c-2")
    assert (await receive(watcher, "message"))["message"]["seq"] == 2
    await assert_silent(watcher)
    assert stored.message.seq == 1
