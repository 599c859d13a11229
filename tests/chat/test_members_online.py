"""Online anywhere vs here now (docs/protocol.md, `members_online`): a member
with a socket open anywhere (another room, any page) is online, though not in
this room's `online`."""

import pytest

from chat import consumers, services
from harness.sockets import db, open_room, receive

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
