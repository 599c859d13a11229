"""Read receipts (docs/protocol.md, "Seen by"): in rooms of at most 50 members,
hello carries the members' read positions and a `read` frame each move, never
those of a member who switched sharing off."""

import pytest

from accounts import services as account_services
from chat import consumers, selectors, services
from chat.models import Membership
from harness.sockets import assert_silent, db, open_room, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def post(room, author, n: int) -> None:
    await db(services.message_create)(room=room, author=author, body=f"m{n}", client_id=f"c{n}")


def position(user, seq: int) -> dict:
    return {"user": {"id": user.pk, "username": user.username}, "seq": seq}


async def test_hello_has_the_members_read_positions(connect_ws, private_room, alice, bob):
    await post(private_room, alice, 1)
    await post(private_room, alice, 2)
    await db(services.room_mark_read)(room=private_room, user=bob, seq=1)
    _, hello = await open_room(connect_ws, private_room, alice)
    assert hello["read_positions"] == [position(alice, 2), position(bob, 1)]


async def test_a_read_mark_reaches_the_others_in_the_room(connect_ws, private_room, alice, bob):
    await post(private_room, alice, 1)
    a, _ = await open_room(connect_ws, private_room, alice)
    b, _ = await open_room(connect_ws, private_room, bob)
    await b.send_json_to({"type": "read", "seq": 1})
    assert await receive(a, "read") == {"type": "read", **position(bob, 1)}
    await assert_silent(b)


async def test_a_member_who_does_not_share_is_never_listed(connect_ws, private_room, alice, bob):
    await post(private_room, alice, 1)
    await db(account_services.profile_update)(user=bob, share_read_position=False)
    a, hello = await open_room(connect_ws, private_room, alice)
    assert [p["user"]["id"] for p in hello["read_positions"]] == [alice.pk]
    b, _ = await open_room(connect_ws, private_room, bob)
    await b.send_json_to({"type": "read", "seq": 1})
    await assert_silent(a)
    await assert_silent(b)


async def test_rooms_over_50_members_show_no_read_positions(
    connect_ws, public_room, alice, make_user
):
    def fill():
        for n in range(50):
            services.room_join(room=public_room, user=make_user(f"member{n}"))

    await db(fill)()
    await post(public_room, alice, 1)
    a, hello = await open_room(connect_ws, public_room, alice)
    assert "read_positions" not in hello
    member, _ = await open_room(connect_ws, public_room, await db(make_user)("reader"))
    await db(services.room_join)(room=public_room, user=await db(make_user)("late"))
    await member.send_json_to({"type": "read", "seq": 1})
    await assert_silent(a)


async def test_a_room_of_exactly_50_members_shows_them(connect_ws, public_room, alice, make_user):
    def fill():
        for n in range(49):
            services.room_join(room=public_room, user=make_user(f"member{n}"))

    await db(fill)()
    _, hello = await open_room(connect_ws, public_room, alice)
    assert len(hello["read_positions"]) == selectors.READ_RECEIPTS_MEMBERS_MAX == 50


def test_read_positions_are_hidden_when_the_answer_fails(private_room, alice, bob):
    """Privacy fails closed: if whoever keeps the setting can't answer, nobody is shown."""
    from chat.signals import read_positions_hidden

    def broken(**kwargs):
        raise RuntimeError("settings unavailable")

    read_positions_hidden.connect(broken, dispatch_uid="test.broken")
    try:
        assert selectors.read_positions(room_id=private_room.pk) == []
        assert not selectors.shares_read_position(room_id=private_room.pk, user_id=bob.pk)
    finally:
        read_positions_hidden.disconnect(dispatch_uid="test.broken")


async def test_a_crowd_in_a_large_room_learns_its_size_once(
    connect_ws, public_room, alice, make_user, monkeypatch
):
    """Each worker remembers a room too large for "Seen by" for a while: the
    next hellos there do not read its members again."""
    monkeypatch.setattr(consumers, "large_rooms", consumers.LargeRooms(ttl=60))
    reads = counting(monkeypatch)
    members = await db(fill_members)(public_room, make_user, 51)
    for member in members[:3]:
        _, hello = await open_room(connect_ws, public_room, member)
        assert "read_positions" not in hello
    assert reads == [public_room.pk]


async def test_a_large_room_that_shrinks_shows_read_positions_again(
    connect_ws, public_room, alice, make_user, monkeypatch
):
    monkeypatch.setattr(consumers, "large_rooms", consumers.LargeRooms(ttl=0))
    reads = counting(monkeypatch)
    members = await db(fill_members)(public_room, make_user, 51)
    _, hello = await open_room(connect_ws, public_room, members[0])
    assert "read_positions" not in hello
    await db(shrink_to)(public_room, selectors.READ_RECEIPTS_MEMBERS_MAX)
    _, hello = await open_room(connect_ws, public_room, members[0])
    assert len(hello["read_positions"]) == selectors.READ_RECEIPTS_MEMBERS_MAX
    assert reads == [public_room.pk, public_room.pk]


def fill_members(room, make_user, count: int) -> list:
    members = [make_user(f"member{n}") for n in range(count)]
    for member in members:
        services.room_join(room=room, user=member)
    return members


def shrink_to(room, count: int) -> None:
    for membership in Membership.objects.filter(room=room).order_by("pk")[count:]:
        services.room_leave(room=room, user=membership.user)


def counting(monkeypatch) -> list[int]:
    """Record the rooms whose read positions a hello reads."""
    reads: list[int] = []
    read_both = selectors.room_last_seq_and_read_positions

    def counted(*, room_id: int):
        reads.append(room_id)
        return read_both(room_id=room_id)

    monkeypatch.setattr(selectors, "room_last_seq_and_read_positions", counted)
    return reads
