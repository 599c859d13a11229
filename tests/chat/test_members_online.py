"""Online anywhere vs here now (docs/protocol.md, `members_online`): a member
with a socket open anywhere (another room, any page) is online, though not in
this room's `online`."""

import asyncio
from collections import Counter

import pytest

from chat import consumers, services
from harness.sockets import db, open_room, receive
from harness.waiting import hold

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_lookups(monkeypatch):
    monkeypatch.setattr(consumers, "members_online", consumers.MembersOnline(ttl=0, refresh=0.2))


async def test_a_member_in_another_room_is_online_but_not_here(connect_ws, public_room, alice, bob):
    dm = await db(services.direct_room_open)(user=alice, username="bob")
    await open_room(connect_ws, public_room, bob)
    _, hello = await open_room(connect_ws, dm, alice)
    assert [user["id"] for user in hello["online"]] == [alice.pk]
    assert hello["members_online"] == sorted([alice.pk, bob.pk])


async def test_a_member_with_no_socket_is_offline(connect_ws, alice, bob):
    dm = await db(services.direct_room_open)(user=alice, username="bob")
    _, hello = await open_room(connect_ws, dm, alice)
    assert hello["members_online"] == [alice.pk]


async def test_the_own_stream_counts_as_online(connect_ws, alice, bob):
    dm = await db(services.direct_room_open)(user=alice, username="bob")
    await connect_ws("/ws/notifications/", bob)
    _, hello = await open_room(connect_ws, dm, alice)
    assert bob.pk in hello["members_online"]


async def test_a_change_is_sent_when_it_happens(connect_ws, alice, bob):
    dm = await db(services.direct_room_open)(user=alice, username="bob")
    a, hello = await open_room(connect_ws, dm, alice)
    assert hello["members_online"] == [alice.pk]
    bob_stream, _, _ = await connect_ws("/ws/notifications/", bob)
    frame = await receive(a, "members_online")
    assert frame == {"type": "members_online", "online": sorted([alice.pk, bob.pk])}
    await bob_stream.disconnect()
    assert (await receive(a, "members_online"))["online"] == [alice.pk]


async def test_only_members_are_looked_up_and_at_most_100(connect_ws, public_room, alice, carol):
    await connect_ws("/ws/notifications/", carol)  # online, but not a member
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["members_online"] == [alice.pk]
    assert consumers.MembersOnline.MEMBERS_MAX == 100


async def test_sockets_that_look_at_once_share_one_lookup(monkeypatch, public_room, alice):
    lookups = consumers.MembersOnline(ttl=10, refresh=30)
    looked_up = []
    first_member_ids = consumers._first_member_ids

    async def counted(room_id, limit):
        looked_up.append(room_id)
        return await first_member_ids(room_id, limit)

    monkeypatch.setattr(consumers, "_first_member_ids", counted)
    answers = await asyncio.gather(*(lookups.of(public_room.pk) for _ in range(20)))
    assert looked_up == [public_room.pk]
    assert all(answer == answers[0] for answer in answers)
    assert lookups.lookups == {}
    await lookups.of(public_room.pk)  # kept for ttl
    assert looked_up == [public_room.pk]


async def test_a_waiter_that_goes_away_leaves_the_lookup_to_the_others(
    monkeypatch, public_room, alice
):
    lookups = consumers.MembersOnline(ttl=10, refresh=30)
    release = hold(monkeypatch, consumers, "_first_member_ids")
    leaving = asyncio.ensure_future(lookups.of(public_room.pk))
    staying = asyncio.ensure_future(lookups.of(public_room.pk))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    assert await staying == []  # alice, a member, has no socket open
    assert leaving.cancelled()


async def test_a_failed_lookup_fails_its_waiters_and_the_next_look_tries_again(
    monkeypatch, public_room
):
    lookups = consumers.MembersOnline(ttl=10, refresh=30)
    first_member_ids = consumers._first_member_ids

    async def unreachable(room_id, limit):
        raise OSError("redis away")

    monkeypatch.setattr(consumers, "_first_member_ids", unreachable)
    answers = await asyncio.gather(
        *(lookups.of(public_room.pk) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(answer, OSError) for answer in answers)
    assert lookups.lookups == {}
    monkeypatch.setattr(consumers, "_first_member_ids", first_member_ids)
    assert await lookups.of(public_room.pk) == []


async def test_the_watched_rooms_are_looked_up_together_each_socket_told_when_its_list_changed(
    monkeypatch, connect_ws, public_room, alice, bob
):
    # Looks only when the test says (the next look would come in an hour).
    lookups = consumers.MembersOnline(ttl=0, refresh=3600)
    monkeypatch.setattr(consumers, "members_online", lookups)
    looked_up = []
    of_rooms = consumers._first_member_ids_of_rooms

    async def counted(room_ids, limit):
        looked_up.append(sorted(room_ids))
        return await of_rooms(room_ids, limit)

    monkeypatch.setattr(consumers, "_first_member_ids_of_rooms", counted)
    dm = await db(services.direct_room_open)(user=alice, username="bob")
    in_dm = [(await open_room(connect_ws, dm, alice))[0] for _ in range(3)]
    in_public, _ = await open_room(connect_ws, public_room, alice)
    assert Counter(lookups.watchers.sockets.values()) == {dm.pk: 3, public_room.pk: 1}
    assert not lookups.watchers.heartbeat.task.done()
    await connect_ws("/ws/notifications/", bob)

    async def look():
        await asyncio.wait_for(lookups.look_again(), 5)

    await look()
    assert looked_up == [sorted([dm.pk, public_room.pk])]  # one lookup, both rooms
    for socket in in_dm:
        frame = await receive(socket, "members_online")
        assert frame == {"type": "members_online", "online": sorted([alice.pk, bob.pk])}
    await look()  # nothing changed: no frame
    for socket in [*in_dm, in_public]:  # (the public room's list, [], did not change)
        await socket.send_json_to({"type": "ping"})
        await receive(socket, "pong")
    # A room whose last socket went is looked at no more.
    for socket in in_dm:
        await socket.disconnect()
    assert list(lookups.watchers.sockets.values()) == [public_room.pk]
    await in_public.disconnect()
    assert lookups.watchers.sockets == {}
    looked_up.clear()
    await look()
    assert looked_up == []


async def test_redis_away_when_the_rooms_are_looked_at_leaves_them_to_the_next_look(
    monkeypatch, connect_ws, alice, bob
):
    lookups = consumers.MembersOnline(ttl=0, refresh=0.05)
    monkeypatch.setattr(consumers, "members_online", lookups)
    looks = []
    of_rooms = consumers._first_member_ids_of_rooms

    async def away_at_first(room_ids, limit):
        looks.append(room_ids)
        if len(looks) == 1:
            raise OSError("redis away")
        return await of_rooms(room_ids, limit)

    monkeypatch.setattr(consumers, "_first_member_ids_of_rooms", away_at_first)
    dm = await db(services.direct_room_open)(user=alice, username="bob")
    socket, _ = await open_room(connect_ws, dm, alice)
    await connect_ws("/ws/notifications/", bob)
    # The first look fails; the next one tells the socket.
    frame = await receive(socket, "members_online")
    assert frame["online"] == sorted([alice.pk, bob.pk]) and len(looks) >= 2


async def test_rooms_looked_up_together_each_get_their_first_members(
    public_room, alice, bob, carol
):
    from chat.models import Membership, Room

    other = await db(Room.objects.create)(slug="other", name="Other")
    empty = await db(Room.objects.create)(slug="empty", name="Empty")
    for user in (carol, alice, bob):
        await db(Membership.objects.get_or_create)(room=public_room, user=user)
    await db(Membership.objects.create)(room=other, user=bob)
    found = await consumers._first_member_ids_of_rooms([public_room.pk, other.pk, empty.pk], 2)
    # By username, the panel's order; at most `limit` a room; a room without members left out.
    assert found == {public_room.pk: [alice.pk, bob.pk], other.pk: [bob.pk]}
    lookups = consumers.MembersOnline()
    online = await lookups.of_rooms([public_room.pk, other.pk, empty.pk])
    assert online == {public_room.pk: [], other.pk: [], empty.pk: []}  # no socket open
    assert await lookups.of(other.pk) == []  # kept for hellos


def test_sockets_look_again_spread_around_refresh():
    lookups = consumers.MembersOnline(refresh=30)
    delays = [lookups.next_look() for _ in range(200)]
    assert all(22.5 <= delay <= 37.5 for delay in delays)
    assert max(delays) - min(delays) > 5
