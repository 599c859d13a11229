"""The room list, live (docs/protocol.md): a room's activity and a user's read
marks reach the user's own stream, and only the streams of those who may read
the room; one publish per message, whatever the room's size."""

import pytest
from django.test import Client

from chat import events, selectors, services
from chat.models import Membership, Message, Room
from harness.sockets import assert_silent, db, open_room, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def post(room, author, n: int):
    stored = await db(services.message_create)(
        room=room, author=author, body=f"message {n}", client_id=f"c-{n}"
    )
    return stored.message


async def test_a_message_reaches_every_members_stream_and_nobody_elses(
    open_stream, private_room, alice, bob, carol
):
    a, _ = await open_stream(alice)
    b, _ = await open_stream(bob)
    c, _ = await open_stream(carol)
    message = await post(private_room, alice, 1)
    for stream in (a, b):
        frame = await receive(stream, "room_activity")
        assert frame == {
            "type": "room_activity",
            "room": private_room.slug,
            "message": {
                "seq": message.seq,
                "author": {"id": alice.pk, "username": "alice"},
                "excerpt": "message 1",
                "created_at": frame["message"]["created_at"],
            },
        }
    await assert_silent(c)


async def test_a_message_is_one_publish_whatever_the_number_of_members(
    open_stream, sent_events, public_room, alice, make_user
):
    members = [await db(make_user)(f"member{n}") for n in range(5)]
    for member in members:
        await db(services.room_join)(room=public_room, user=member)
    streams = [(await open_stream(member))[0] for member in members]
    sent_events.clear()
    await post(public_room, alice, 1)
    for stream in streams:
        await receive(stream, "room_activity")
    activity = [group for group, _ in sent_events if group.startswith("chat.activity.")]
    assert activity == [events.activity_group(public_room.pk)]


async def test_the_excerpt_is_the_first_100_characters(open_stream, public_room, alice):
    a, _ = await open_stream(alice)
    await db(services.message_create)(
        room=public_room, author=alice, body="x" * 300, client_id="long"
    )
    frame = await receive(a, "room_activity")
    assert frame["message"]["excerpt"] == "x" * 99 + "…"


async def test_reading_sends_the_count_to_the_readers_streams_only(
    connect_ws, open_stream, private_room, alice, bob
):
    for n in range(3):
        await post(private_room, alice, n)
    b1, _ = await open_stream(bob)
    b2, _ = await open_stream(bob)
    a, _ = await open_stream(alice)
    room_socket, _ = await open_room(connect_ws, private_room, bob)
    await room_socket.send_json_to({"type": "read", "seq": 1})
    for stream in (b1, b2):
        assert await receive(stream, "room_read") == {
            "type": "room_read",
            "room": private_room.slug,
            "seq": 1,
            "unread": 2,
            "through_seq": 3,
        }
    await assert_silent(a)


async def test_a_read_that_moves_nothing_sends_nothing(
    connect_ws, open_stream, private_room, alice, bob
):
    await post(private_room, alice, 1)
    await db(services.room_mark_read)(room=private_room, user=bob, seq=1)
    b, _ = await open_stream(bob)
    room_socket, _ = await open_room(connect_ws, private_room, bob)
    await room_socket.send_json_to({"type": "read", "seq": 1})
    await assert_silent(b)


async def test_a_member_removed_from_a_private_room_stops_hearing_it(
    open_stream, private_room, alice, bob
):
    b, _ = await open_stream(bob)
    await db(services.member_remove)(room=private_room, actor=alice, username="bob")
    # The stream leaves the room's group before the next message: ping to let it.
    await assert_silent(b)
    await post(private_room, alice, 1)
    await assert_silent(b)


async def test_leaving_a_public_room_stops_its_activity(open_stream, public_room, alice, bob):
    await db(services.room_join)(room=public_room, user=bob)
    b, _ = await open_stream(bob)
    await post(public_room, alice, 1)
    await receive(b, "room_activity")
    await db(services.room_leave)(room=public_room, user=bob)
    await assert_silent(b)
    await post(public_room, alice, 2)
    await assert_silent(b)


async def test_joining_a_room_starts_its_activity(open_stream, public_room, alice, bob):
    b, _ = await open_stream(bob)
    await post(public_room, alice, 1)
    await assert_silent(b)
    await db(services.room_join)(room=public_room, user=bob)
    await assert_silent(b)
    await post(public_room, alice, 2)
    assert (await receive(b, "room_activity"))["message"]["excerpt"] == "message 2"


async def test_a_new_direct_conversation_reaches_the_other_persons_list(open_stream, alice, bob):
    b, _ = await open_stream(bob)
    room = await db(services.direct_room_open)(user=alice, username="bob")
    await assert_silent(b)
    await post(room, alice, 1)
    assert (await receive(b, "room_activity"))["room"] == room.slug


async def test_a_membership_given_to_someone_else_moves_the_activity(
    open_stream, private_room, alice, bob, carol
):
    b, _ = await open_stream(bob)
    c, _ = await open_stream(carol)

    def give_to_carol():
        Membership.objects.filter(room=private_room, user=bob).update(user=carol)
        Membership.objects.get(room=private_room, user=carol).save()

    await db(give_to_carol)()
    await assert_silent(b)
    await assert_silent(c)
    await post(private_room, alice, 1)
    await receive(c, "room_activity")
    await assert_silent(b)


async def test_a_deleted_membership_through_the_orm_stops_the_activity(
    open_stream, private_room, alice, bob
):
    b, _ = await open_stream(bob)
    await db(lambda: Membership.objects.filter(room=private_room, user=bob).delete())()
    await assert_silent(b)
    await post(private_room, alice, 1)
    await assert_silent(b)


async def test_a_stream_leaves_a_revoked_room_at_once(connect_ws, open_stream, private_room, bob):
    """The revocation reaches the stream in the room's own group, in order with
    the room's messages: no message after it is forwarded, whatever the delay of
    the regrouping."""
    from channels.layers import get_channel_layer

    b, _ = await open_stream(bob)
    group = events.activity_group(private_room.pk)
    layer = get_channel_layer()
    await layer.group_send(group, {"type": "stream.revoked", "group": group, "user_id": bob.pk})
    await layer.group_send(group, {"type": "stream.frame", "group": group, "text": "{}"})
    await assert_silent(b)


def test_unread_counts_messages_not_seqs(private_room, alice, bob):
    for n in range(3):
        services.message_create(room=private_room, author=alice, body=f"m{n}", client_id=f"m{n}")
    # Another kind of room event takes a seq without being a message.
    Room.objects.filter(pk=private_room.pk).update(last_seq=4)
    services.message_create(room=private_room, author=alice, body="m3", client_id="m3")
    assert Message.objects.filter(room=private_room).count() == 4
    services.room_mark_read(room=private_room, user=bob, seq=1)
    state = selectors.read_state(room_id=private_room.pk, user_id=bob.pk)
    assert (state.read_seq, state.unread, state.through_seq) == (1, 3, 5)
    [summary] = selectors.rooms_for_user(user=bob)
    assert summary.unread == 3


def test_the_room_list_page_carries_what_the_client_counts_from(private_room, alice, bob):
    services.message_create(room=private_room, author=alice, body="hi", client_id="hi")
    client = Client()
    client.force_login(bob)
    page = client.get("/chat/").content.decode()
    assert (
        f'data-room="{private_room.slug}" data-read-seq="0" data-unread="1" data-through-seq="1"'
        in page
    )
