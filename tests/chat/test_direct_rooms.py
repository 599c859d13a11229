"""Direct rooms are found by their two people, never by an address anyone can
choose; user-chosen names never produce a reserved address."""

import importlib
import threading

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection

from chat import services, slugs
from chat.models import Membership, Message, Room
from harness.sockets import db, open_room, receive

migration = importlib.import_module("chat.migrations.0003_reserved_slugs_and_direct_pairs")


def squat(owner, slug: str, kind: str) -> Room:
    """A room on a reserved slug, as anyone could make one before the fix (the
    migration moves such rooms; the admin and the services refuse new ones)."""
    room = Room.objects.create(slug=slug, name=slug.replace("-", " "), kind=kind, created_by=owner)
    Membership.objects.create(room=room, user=owner, role=Membership.Role.OWNER)
    return room


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", [Room.Kind.PUBLIC, Room.Kind.PRIVATE])
async def test_direct_message_reaches_only_the_pair_despite_a_squatted_slug(
    connect_ws, make_user, kind
):
    alice, carol, gina = [await db(make_user)(name) for name in ("alice", "carol", "gina")]
    dm_slug = slugs.direct_slug(*sorted([alice.pk, gina.pk]))
    # Through the site, carol's "dm 1 9" gets an ordinary address...
    named = await db(services.room_create)(
        name=dm_slug.replace("-", " "), created_by=carol, private=kind == Room.Kind.PRIVATE
    )
    assert named.slug == f"room-{dm_slug}"
    # ...and a room squatting the very slug (made before the fix) changes nothing.
    squatted = await db(squat)(carol, dm_slug, kind)
    carol_sockets = [(await open_room(connect_ws, room, carol))[0] for room in (named, squatted)]

    room = await db(services.direct_room_open)(user=alice, username="gina")
    assert room.pk not in (named.pk, squatted.pk)
    assert room.kind == Room.Kind.DIRECT
    assert (room.direct_low_id, room.direct_high_id) == tuple(sorted([alice.pk, gina.pk]))
    members = await db(lambda: set(room.members.values_list("username", flat=True)))()
    assert members == {"alice", "gina"}
    assert await db(services.direct_room_open)(user=gina, username="alice") == room

    a, _ = await open_room(connect_ws, room, alice)
    g, _ = await open_room(connect_ws, room, gina)
    await a.send_json_to({"type": "send", "body": "for gina only", "client_id": "c-1"})
    for socket in (a, g):
        assert (await receive(socket, "message"))["message"]["body"] == "for gina only"
    # Carol's own message is the next thing each of her sockets hears: nothing of
    # alice's was published to a group they are in.
    for n, (socket, own) in enumerate(zip(carol_sockets, (named, squatted), strict=True)):
        await db(services.message_create)(room=own, author=carol, body="mine", client_id=f"m{n}")
        frame = await receive(socket, "message")
        assert (frame["message"]["body"], frame["message"]["author"]["id"]) == ("mine", carol.pk)
    stored = await db(lambda: list(Message.objects.values_list("room_id", "body")))()
    assert sorted(stored) == sorted(
        [(room.pk, "for gina only"), (named.pk, "mine"), (squatted.pk, "mine")]
    )


@pytest.mark.django_db(transaction=True)
def test_simultaneous_opens_of_one_pair_make_one_room(alice, bob):
    barrier = threading.Barrier(6)
    rooms, errors = [], []

    def open_dm(user, other) -> None:
        try:
            barrier.wait()
            rooms.append(services.direct_room_open(user=user, username=other.username).pk)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    pairs = [(alice, bob), (bob, alice)] * 3
    threads = [threading.Thread(target=open_dm, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(rooms) == 6 and len(set(rooms)) == 1
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1
    assert Membership.objects.filter(room_id=rooms[0]).count() == 2


@pytest.mark.django_db
def test_reopening_after_a_concurrent_open_returns_that_room(alice, bob):
    first = services.direct_room_open(user=alice, username="bob")
    # The loser of a race finds the row in place when it inserts: the unique pair
    # refuses the second room and the winner's is returned.
    again = services._direct_room_create(user=bob, other=alice)
    assert again == first
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1
    assert Membership.objects.filter(room=first).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("dm 1 9", "room-dm-1-9"),
        ("DM-2-3", "room-dm-2-3"),
        ("  dm--4 5 ", "room-dm-4-5"),
        ("new", "room-new"),
        ("Direct", "room-direct"),
        ("dm", "room-dm"),
        ("dmitri", "dmitri"),
        ("dm1", "dm1"),
        ("!!!", "room"),
    ],
)
def test_room_names_never_produce_a_reserved_slug(alice, name, slug):
    room = services.room_create(name=name, created_by=alice)
    assert room.slug == slug and not slugs.is_reserved(room.slug)
    assert services.room_create(name=name, created_by=alice).slug == f"{slug}-2"


@pytest.mark.django_db
def test_admin_form_refuses_reserved_slugs_and_kind_changes_to_or_from_direct(alice, bob):
    for slug in ("dm-1-2", "DM-7-8", "new", "direct"):
        with pytest.raises(ValidationError) as error:
            Room(slug=slug, name="x", kind=Room.Kind.PUBLIC).full_clean()
        assert "slug" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        Room(slug="ours", name="x", kind=Room.Kind.DIRECT).full_clean()
    assert "kind" in error.value.message_dict
    direct = services.direct_room_open(user=alice, username="bob")
    direct.full_clean()  # its own dm- slug is fine
    direct.kind = Room.Kind.PUBLIC
    with pytest.raises(ValidationError):
        direct.full_clean()


@pytest.mark.django_db
def test_admin_refuses_a_room_on_a_reserved_slug(client, make_user, alice):
    client.force_login(make_user("ops", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/chat/room/add/",
        {
            "name": "dm 1 2",
            "slug": "dm-1-2",
            "kind": "public",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "This address is reserved" in response.content.decode()
    assert not Room.objects.filter(slug="dm-1-2").exists()


@pytest.mark.django_db
def test_migration_moves_squatters_and_pairs_direct_rooms(make_user):
    alice, carol, gina = (make_user(name) for name in ("alice", "carol", "gina"))
    low, high = sorted([alice.pk, gina.pk])
    squatter = squat(carol, f"dm-{low}-{high}", Room.Kind.PUBLIC)
    message = Message.objects.create(room=squatter, seq=1, author=carol, body="b", client_id="c")
    taken = Room.objects.create(slug="room-new", name="taken", created_by=carol)
    reserved_word = squat(carol, "new", Room.Kind.PRIVATE)
    ordinary = squat(carol, "dmitri", Room.Kind.PUBLIC)
    # Direct rooms as direct_room_open made them: found by slug, no pair.
    old_direct = Room.objects.create(
        slug=f"dm-{carol.pk}-{gina.pk}", name="carol & gina", kind=Room.Kind.DIRECT
    )
    by_members = Room.objects.create(slug="chat-2", name="a & c", kind=Room.Kind.DIRECT)
    Membership.objects.bulk_create(
        [Membership(room=by_members, user=alice), Membership(room=by_members, user=carol)]
    )
    orphan = Room.objects.create(slug="dm-x", name="?", kind=Room.Kind.DIRECT)

    migration.forwards(apps, None)

    squatter.refresh_from_db()
    assert squatter.slug == f"room-dm-{low}-{high}" and squatter.kind == Room.Kind.PUBLIC
    assert list(squatter.messages.all()) == [message]
    assert list(squatter.members.all()) == [carol]
    reserved_word.refresh_from_db()
    assert reserved_word.slug == "room-new-2"  # "room-new" was taken
    taken.refresh_from_db()
    ordinary.refresh_from_db()
    assert (taken.slug, ordinary.slug) == ("room-new", "dmitri")
    old_direct.refresh_from_db()
    assert (old_direct.direct_low_id, old_direct.direct_high_id) == (carol.pk, gina.pk)
    by_members.refresh_from_db()
    assert (by_members.direct_low_id, by_members.direct_high_id) == tuple(
        sorted([alice.pk, carol.pk])
    )
    orphan.refresh_from_db()
    assert (orphan.direct_low_id, orphan.direct_high_id) == (None, None)
    # The real direct room of alice and gina can be made now, on the freed slug.
    assert services.direct_room_open(user=alice, username="gina").slug == f"dm-{low}-{high}"
    assert services.direct_room_open(user=carol, username="gina") == old_direct
    migration.forwards(apps, None)  # running again changes nothing
    squatter.refresh_from_db()
    assert squatter.slug == f"room-dm-{low}-{high}"
