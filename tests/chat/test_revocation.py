"""Access removed by any path closes the affected open sockets at once: the admin,
the ORM (a shell), bulk and cascading deletes, and a room's kind changing. On the
real Redis layer, as production runs it."""

import pytest
from django.test import Client

from chat import services
from chat.models import Membership, Room
from harness.sockets import db, expect_close, open_room, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def still_open(room, author, n: int, *sockets) -> None:
    """Prove each socket is still open and in the room: a new message reaches it."""
    await db(services.message_create)(room=room, author=author, body=f"ok {n}", client_id=f"ok{n}")
    for socket in sockets:
        assert (await receive(socket, "message"))["message"]["body"] == f"ok {n}"


def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("ops", is_staff=True, is_superuser=True))
    return client


def room_admin_form(room: Room, **changes) -> dict:
    """The admin change form of `room` as the browser posts it, with `changes`;
    `delete=<user>` ticks that member's inline DELETE box, `replace=(<user>,
    <other user>)` gives that member's row to the other user."""
    delete = changes.pop("delete", None)
    old, new = changes.pop("replace", (None, None))
    memberships = list(room.memberships.order_by("pk"))
    data = {
        "name": room.name,
        "slug": room.slug,
        "kind": room.kind,
        "created_by": room.created_by_id or "",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        **changes,
    }
    for i, membership in enumerate(memberships):
        data |= {
            f"memberships-{i}-id": membership.pk,
            f"memberships-{i}-room": room.pk,
            f"memberships-{i}-user": membership.user_id,
            f"memberships-{i}-role": membership.role,
        }
        if membership.user_id == getattr(delete, "pk", None):
            data[f"memberships-{i}-DELETE"] = "on"
        if membership.user_id == getattr(old, "pk", None):
            data[f"memberships-{i}-user"] = new.pk
    return data


def post_room_admin(client: Client, room: Room, **changes) -> None:
    response = client.post(f"/admin/chat/room/{room.pk}/change/", room_admin_form(room, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]


async def test_member_deleted_in_the_admin_inline_is_closed_with_4403(
    connect_ws, private_room, alice, bob, make_user
):
    a, _ = await open_room(connect_ws, private_room, alice)
    b, _ = await open_room(connect_ws, private_room, bob)
    client = await db(admin_client)(make_user)
    await db(post_room_admin)(client, private_room, delete=bob)
    await expect_close(b, 4403)
    assert not await db(Membership.objects.filter(room=private_room, user=bob).exists)()
    await still_open(private_room, alice, 1, a)


async def test_membership_given_to_someone_else_in_the_admin_closes_the_old_member(
    connect_ws, private_room, alice, bob, carol, make_user
):
    a, _ = await open_room(connect_ws, private_room, alice)
    b, _ = await open_room(connect_ws, private_room, bob)
    client = await db(admin_client)(make_user)
    await db(post_room_admin)(client, private_room, replace=(bob, carol))
    await expect_close(b, 4403)
    c, _ = await open_room(connect_ws, private_room, carol)
    await still_open(private_room, alice, 1, a, c)


async def test_membership_bulk_deleted_through_the_orm_is_closed_with_4403(
    connect_ws, private_room, alice, bob
):
    a, _ = await open_room(connect_ws, private_room, alice)
    b1, _ = await open_room(connect_ws, private_room, bob)
    b2, _ = await open_room(connect_ws, private_room, bob)
    await db(lambda: Membership.objects.filter(room=private_room, user=bob).delete())()
    await expect_close(b1, 4403)
    await expect_close(b2, 4403)
    await still_open(private_room, alice, 1, a)


async def test_leaving_a_public_room_keeps_its_socket(connect_ws, public_room, alice, bob):
    await db(services.room_join)(room=public_room, user=bob)
    b, _ = await open_room(connect_ws, public_room, bob)
    await db(services.room_leave)(room=public_room, user=bob)
    await still_open(public_room, alice, 1, b)  # a public room needs no membership


async def test_leaving_a_private_room_closes_its_sockets(connect_ws, private_room, alice, bob):
    b, _ = await open_room(connect_ws, private_room, bob)
    await db(services.room_leave)(room=private_room, user=bob)
    await expect_close(b, 4403)


async def test_deleted_user_is_closed_with_4401_everywhere(
    connect_ws, private_room, public_room, alice, bob
):
    a, _ = await open_room(connect_ws, private_room, alice)
    in_private, _ = await open_room(connect_ws, private_room, bob)
    in_public, _ = await open_room(connect_ws, public_room, bob)
    notes, connected, _ = await connect_ws("/ws/notifications/", bob)
    assert connected
    await receive(notes, "hello")
    await db(bob.delete)()  # cascades to the memberships, too
    for socket in (in_private, in_public, notes):
        await expect_close(socket, 4401)
    await still_open(private_room, alice, 1, a)


async def test_public_room_made_private_closes_non_members_with_4403(
    connect_ws, public_room, alice, bob, carol
):
    await db(services.room_join)(room=public_room, user=bob)
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    c, _ = await open_room(connect_ws, public_room, carol)  # reading, never joined
    public_room.kind = Room.Kind.PRIVATE
    await db(public_room.save)(update_fields=["kind"])
    await expect_close(c, 4403)
    await still_open(public_room, alice, 1, a, b)
    # A save that leaves it private closes nobody (nor do the last_seq saves of
    # new messages).
    await db(lambda: Room.objects.get(pk=public_room.pk).save())()
    await still_open(public_room, alice, 2, a, b)


async def test_room_made_private_in_the_admin_closes_non_members_with_4403(
    connect_ws, public_room, alice, carol, make_user
):
    a, _ = await open_room(connect_ws, public_room, alice)
    c, _ = await open_room(connect_ws, public_room, carol)
    client = await db(admin_client)(make_user)
    await db(post_room_admin)(client, public_room, kind="private")
    await expect_close(c, 4403)
    await still_open(public_room, alice, 1, a)


async def test_deleted_room_closes_every_socket_with_4404(
    connect_ws, public_room, private_room, alice, carol
):
    a, _ = await open_room(connect_ws, public_room, alice)
    c, _ = await open_room(connect_ws, public_room, carol)
    member, _ = await open_room(connect_ws, private_room, alice)
    await db(public_room.delete)()
    await db(lambda: Room.objects.filter(pk=private_room.pk).delete())()
    for socket in (a, c, member):
        await expect_close(socket, 4404)


async def test_membership_deleted_and_restored_in_one_transaction_keeps_the_socket(
    connect_ws, private_room, alice, bob
):
    from django.db import transaction

    b, _ = await open_room(connect_ws, private_room, bob)

    @transaction.atomic
    def replace_membership():
        Membership.objects.filter(room=private_room, user=bob).delete()
        Membership.objects.create(room=private_room, user=bob)

    await db(replace_membership)()
    await still_open(private_room, alice, 1, b)
