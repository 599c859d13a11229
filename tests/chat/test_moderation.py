"""Room moderation (chat.moderation): bans, slow mode, pins, reports and their
resolution, user blocks; through the services, the room socket, the pages and
the admin, on the real Redis layer."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Block
from chat import moderation, selectors, services
from chat.exceptions import RoomBanned
from chat.models import Membership, Message, Pin, Report, Room, RoomBan, RoomEvent
from harness.sockets import assert_silent, db, expect_close, open_room, receive
from notifications.models import Notification
from realtime.errors import Forbidden, NotFound, Refused

pytestmark = pytest.mark.django_db(transaction=True)


def post(room, author, body, client_id=None):
    return services.message_create(
        room=room, author=author, body=body, client_id=client_id or body[:60]
    ).message


def moderator(make_user, username="mod"):
    user = make_user(username, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="moderate_room"))
    return type(user).objects.get(pk=user.pk)  # a fresh permission cache


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---- Bans ---------------------------------------------------------------------------


def test_owner_bans_a_member_who_loses_membership_and_cannot_rejoin(public_room, alice, bob):
    services.room_join(room=public_room, user=bob)
    moderation.member_ban(room=public_room, actor=alice, username="bob")
    assert RoomBan.objects.filter(room=public_room, user=bob).exists()
    assert not Membership.objects.filter(room=public_room, user=bob).exists()
    with pytest.raises(RoomBanned):
        services.room_join(room=public_room, user=bob)
    with pytest.raises(RoomBanned):
        post(public_room, bob, "let me in")
    assert not Message.objects.filter(room=public_room, author=bob).exists()
    assert not Membership.objects.filter(room=public_room, user=bob).exists()


def test_a_member_cannot_ban_and_nobody_bans_the_owner_or_themself(
    public_room, alice, bob, carol, make_user
):
    services.room_join(room=public_room, user=bob)
    with pytest.raises(Forbidden):
        moderation.member_ban(room=public_room, actor=bob, username="carol")
    with pytest.raises(Forbidden):
        moderation.member_ban(room=public_room, actor=bob, username="alice")
    staff = moderator(make_user)
    with pytest.raises(Forbidden):
        moderation.member_ban(room=public_room, actor=staff, username="alice")
    with pytest.raises(Refused):
        moderation.member_ban(room=public_room, actor=alice, username="alice")
    with pytest.raises(NotFound):
        moderation.member_ban(room=public_room, actor=alice, username="nobody")
    assert not RoomBan.objects.exists()
    assert Membership.objects.filter(room=public_room, user=bob).exists()


def test_staff_with_the_permission_ban_in_a_private_room_they_are_not_in(
    private_room, bob, make_user
):
    staff = moderator(make_user)
    moderation.member_ban(room=private_room, actor=staff, username="bob")
    assert RoomBan.objects.filter(room=private_room, user=bob).exists()
    plain_staff = make_user("plainstaff", is_staff=True)
    with pytest.raises(Refused):
        moderation.member_unban(room=private_room, actor=plain_staff, username="bob")


def test_unban_lets_them_join_again(public_room, alice, bob):
    moderation.member_ban(room=public_room, actor=alice, username="bob")
    assert moderation.member_unban(room=public_room, actor=alice, username="bob") is True
    assert moderation.member_unban(room=public_room, actor=alice, username="bob") is False
    services.room_join(room=public_room, user=bob)
    post(public_room, bob, "back")


def test_owner_cannot_add_a_banned_user_to_a_private_room(private_room, alice, bob):
    moderation.member_ban(room=private_room, actor=alice, username="bob")
    with pytest.raises(Refused, match="banned"):
        services.member_add(room=private_room, actor=alice, username="bob")
    assert not Membership.objects.filter(room=private_room, user=bob).exists()


def test_no_moderation_in_a_direct_room(alice, bob):
    room = services.direct_room_open(user=alice, username="bob")
    with pytest.raises(Forbidden):
        moderation.member_ban(room=room, actor=alice, username="bob")
    with pytest.raises(Forbidden):
        moderation.slow_mode_set(room=room, actor=alice, seconds=10)


async def test_ban_closes_the_banned_users_sockets_of_that_room_with_4403(
    connect_ws, public_room, alice, bob, carol
):
    await db(services.room_join)(room=public_room, user=bob)
    other_room = await db(services.room_create)(name="Other", created_by=carol)
    a, _ = await open_room(connect_ws, public_room, alice)
    b1, _ = await open_room(connect_ws, public_room, bob)
    b2, _ = await open_room(connect_ws, public_room, bob)
    b_other, _ = await open_room(connect_ws, other_room, bob)
    await db(moderation.member_ban)(room=public_room, actor=alice, username="bob")
    await expect_close(b1, 4403)
    await expect_close(b2, 4403)
    # Their sockets elsewhere, and everyone else's here, stay open.
    await assert_silent(b_other)
    await db(post)(public_room, alice, "still here")
    assert (await receive(a, "message"))["message"]["body"] == "still here"


async def test_banned_user_is_refused_at_connect_with_4403(connect_ws, public_room, alice, bob):
    await db(moderation.member_ban)(room=public_room, actor=alice, username="bob")
    communicator, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/", bob)
    assert connected
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


async def test_a_ban_from_one_room_refuses_no_other(connect_ws, public_room, alice, bob):
    other = await db(services.room_create)(name="Elsewhere", created_by=alice)
    await db(moderation.member_ban)(room=public_room, actor=alice, username="bob")
    _, hello = await open_room(connect_ws, other, bob)
    assert hello["room"]["slug"] == other.slug


def test_banned_user_gets_a_clear_refusal_on_the_room_page_and_join(public_room, alice, bob):
    moderation.member_ban(room=public_room, actor=alice, username="bob")
    client = client_for(bob)
    page = client.get(public_room.get_absolute_url())
    assert page.status_code == 403
    assert "You are banned from this room." in page.content.decode()
    joined = client.post(reverse("chat:room_join", args=[public_room.slug]))
    assert joined.status_code == 403
    assert "You are banned from this room." in joined.content.decode()
    assert not Membership.objects.filter(room=public_room, user=bob).exists()
    # Nor is the room offered to them to join.
    assert public_room not in selectors.public_rooms_to_join(user=bob)
    moderation.member_unban(room=public_room, actor=alice, username="bob")
    assert public_room in selectors.public_rooms_to_join(user=bob)


def test_ban_and_unban_forms_on_the_room_page(public_room, alice, bob):
    services.room_join(room=public_room, user=bob)
    owner = client_for(alice)
    page = owner.get(public_room.get_absolute_url()).content.decode()
    assert reverse("chat:member_ban", args=[public_room.slug]) in page
    response = owner.post(reverse("chat:member_ban", args=[public_room.slug]), {"username": "bob"})
    assert response.status_code == 302
    assert RoomBan.objects.filter(room=public_room, user=bob).exists()
    page = owner.get(public_room.get_absolute_url()).content.decode()
    assert 'id="bans"' in page and 'data-username="bob"' in page
    owner.post(reverse("chat:member_unban", args=[public_room.slug]), {"username": "bob"})
    assert not RoomBan.objects.exists()


def test_the_moderation_forms_do_not_reveal_a_private_room(private_room, bob, carol):
    client = client_for(carol)
    for name, data in (("member_ban", {"username": "bob"}), ("slow_mode", {"seconds": "5"})):
        response = client.post(reverse(f"chat:{name}", args=[private_room.slug]), data)
        assert response.status_code == 404
    assert Membership.objects.filter(room=private_room, user=bob).exists()
    assert Room.objects.get(pk=private_room.pk).slow_mode_seconds == 0


def test_a_member_posting_the_ban_form_changes_nothing(public_room, alice, bob, carol):
    services.room_join(room=public_room, user=bob)
    services.room_join(room=public_room, user=carol)
    client = client_for(bob)
    assert "member_ban" not in client.get(public_room.get_absolute_url()).content.decode()
    response = client.post(
        reverse("chat:member_ban", args=[public_room.slug]), {"username": "carol"}
    )
    assert response.status_code == 302
    assert not RoomBan.objects.exists()
    assert Membership.objects.filter(room=public_room, user=carol).exists()
    assert (
        client.post(reverse("chat:member_ban", args=["nowhere"]), {"username": "x"}).status_code
        == 404
    )


# ---- Slow mode ----------------------------------------------------------------------------


def test_slow_mode_refuses_a_second_message_within_the_wait_and_stores_nothing(
    public_room, alice, bob
):
    moderation.slow_mode_set(room=public_room, actor=alice, seconds=60)
    post(public_room, bob, "first")
    last_seq = Room.objects.get(pk=public_room.pk).last_seq
    with pytest.raises(Refused) as refused:
        post(public_room, bob, "second")
    assert refused.value.code == "slow_mode"
    assert 59 <= refused.value.extra["retry_after"] <= 60
    assert refused.value.extra["slow_mode"] == 60
    assert Room.objects.get(pk=public_room.pk).last_seq == last_seq
    assert not Message.objects.filter(body="second").exists()


def test_slow_mode_lets_a_resend_and_the_owner_and_moderators_through(
    public_room, alice, bob, make_user
):
    moderation.slow_mode_set(room=public_room, actor=alice, seconds=60)
    first = post(public_room, bob, "first", client_id="c1")
    assert post(public_room, bob, "first", client_id="c1").pk == first.pk  # a resend
    post(public_room, alice, "owner 1")
    post(public_room, alice, "owner 2")
    staff = moderator(make_user)
    post(public_room, staff, "mod 1")
    post(public_room, staff, "mod 2")


def test_slow_mode_ends_after_the_wait(public_room, alice, bob):
    moderation.slow_mode_set(room=public_room, actor=alice, seconds=30)
    message = post(public_room, bob, "first")
    Message.objects.filter(pk=message.pk).update(
        created_at=message.created_at - timedelta(seconds=31)
    )
    post(public_room, bob, "second")


@pytest.mark.parametrize("seconds", [-1, 21601, "ten", 1.5, True, None])
def test_slow_mode_refuses_what_is_not_a_number_of_seconds(public_room, alice, seconds):
    with pytest.raises(Refused):
        moderation.slow_mode_set(room=public_room, actor=alice, seconds=seconds)
    assert Room.objects.get(pk=public_room.pk).slow_mode_seconds == 0


def test_only_the_owner_or_a_moderator_sets_slow_mode(public_room, bob):
    services.room_join(room=public_room, user=bob)
    with pytest.raises(Forbidden):
        moderation.slow_mode_set(room=public_room, actor=bob, seconds=10)
    client = client_for(bob)
    client.post(reverse("chat:slow_mode", args=[public_room.slug]), {"seconds": "10"})
    assert Room.objects.get(pk=public_room.pk).slow_mode_seconds == 0


def test_slow_mode_form_on_the_room_page(public_room, alice):
    client = client_for(alice)
    response = client.post(reverse("chat:slow_mode", args=[public_room.slug]), {"seconds": "30"})
    assert response.status_code == 302
    assert Room.objects.get(pk=public_room.pk).slow_mode_seconds == 30
    bad = client.post(reverse("chat:slow_mode", args=[public_room.slug]), {"seconds": "-4"})
    assert bad.status_code == 302
    assert Room.objects.get(pk=public_room.pk).slow_mode_seconds == 30


async def test_slow_mode_error_frame_says_how_long_to_wait_and_the_room_hears_the_change(
    connect_ws, public_room, alice, bob
):
    a, hello = await open_room(connect_ws, public_room, alice)
    assert hello["slow_mode"] == 0 and hello["pinned"] == []
    b, _ = await open_room(connect_ws, public_room, bob)
    await db(moderation.slow_mode_set)(room=public_room, actor=alice, seconds=45)
    for socket in (a, b):
        assert await receive(socket, "slow_mode") == {"type": "slow_mode", "seconds": 45}
    await b.send_json_to({"type": "send", "body": "one", "client_id": "c1"})
    assert (await receive(b, "message"))["message"]["body"] == "one"
    await b.send_json_to({"type": "send", "body": "two", "client_id": "c2"})
    error = await receive(b, "error")
    assert error["code"] == "slow_mode"
    assert error["client_id"] == "c2"
    assert error["slow_mode"] == 45
    assert 44 <= error["retry_after"] <= 45
    assert not await db(Message.objects.filter(body="two").exists)()
    await assert_silent(b)  # the socket stays open
    _, hello = await open_room(connect_ws, public_room, bob)
    assert hello["slow_mode"] == 45 and hello["slow_mode_exempt"] is False
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["slow_mode_exempt"] is True


# ---- Pins ------------------------------------------------------------------------------------


def test_pin_and_unpin_are_room_events_with_their_own_seq(public_room, alice, bob):
    message = post(public_room, bob, "important")
    stored = moderation.message_pin(room=public_room, actor=alice, message_id=message.pk, on=True)
    assert stored.event is not None and stored.event.kind == RoomEvent.Kind.PIN
    assert stored.event.seq == message.seq + 1
    assert '"kind":"pin"' in stored.event.text
    again = moderation.message_pin(room=public_room, actor=alice, message_id=message.pk, on=True)
    assert again.event is None
    unpinned = moderation.message_pin(
        room=public_room, actor=alice, message_id=message.pk, on=False
    )
    assert unpinned.event.kind == RoomEvent.Kind.UNPIN
    assert unpinned.event.seq == message.seq + 2
    assert not Pin.objects.exists()


async def test_hellos_pinned_list_is_excerpts_newest_pin_first(connect_ws, public_room, alice):
    first = await db(post)(public_room, alice, "x" * 3000)
    second = await db(post)(public_room, alice, "second")
    for message in (first, second):
        await db(moderation.message_pin)(
            room=public_room, actor=alice, message_id=message.pk, on=True
        )
    _, hello = await open_room(connect_ws, public_room, alice)
    assert [entry["id"] for entry in hello["pinned"]] == [second.pk, first.pk]
    assert hello["pinned"][1]["excerpt"] == "x" * 139 + "…"
    assert hello["pinned"][0]["author"]["username"] == "alice"
    assert "body" not in hello["pinned"][0]


def test_a_member_cannot_pin(public_room, bob):
    message = post(public_room, bob, "mine")
    with pytest.raises(Forbidden):
        moderation.message_pin(room=public_room, actor=bob, message_id=message.pk, on=True)
    assert not Pin.objects.exists()
    assert Room.objects.get(pk=public_room.pk).last_seq == message.seq


def test_pins_are_capped(public_room, alice, settings):
    settings.CHAT_PINS_MAX = 2
    ids = [post(public_room, alice, f"m{i}").pk for i in range(3)]
    for pk in ids[:2]:
        moderation.message_pin(room=public_room, actor=alice, message_id=pk, on=True)
    with pytest.raises(Refused, match="at most 2"):
        moderation.message_pin(room=public_room, actor=alice, message_id=ids[2], on=True)


async def test_pins_reach_every_socket_and_a_new_socket_sees_the_pinned_list(
    connect_ws, public_room, alice, bob
):
    message = await db(post)(public_room, bob, "read the rules")
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await a.send_json_to({"type": "pin", "message_id": message.pk, "on": True})
    for socket in (a, b):
        frame = await receive(socket, "update")
        assert frame["kind"] == "pin" and frame["message"]["id"] == message.pk
        assert frame["seq"] == message.seq + 1
    _, hello = await open_room(connect_ws, public_room, bob)
    assert [m["id"] for m in hello["pinned"]] == [message.pk]
    # A client resuming from before the pin gets it as a stored update frame.
    resumed, hello = await open_room(connect_ws, public_room, bob, f"?after={message.seq}")
    assert [m["id"] for m in hello["pinned"]] == [message.pk]
    assert (await receive(resumed, "update"))["kind"] == "pin"
    # A deleted message leaves the pinned list.
    await db(services.message_delete)(room=public_room, actor=alice, message_id=message.pk)
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["pinned"] == []


async def test_a_members_pin_frame_is_refused_and_changes_nothing(
    connect_ws, public_room, alice, bob
):
    message = await db(post)(public_room, alice, "hello")
    b, _ = await open_room(connect_ws, public_room, bob)
    await b.send_json_to({"type": "pin", "message_id": message.pk, "on": True})
    error = await receive(b, "error")
    assert error["code"] == "forbidden" and error["message_id"] == message.pk
    await b.send_json_to({"type": "pin", "message_id": message.pk, "on": "yes"})
    assert (await receive(b, "error"))["code"] == "invalid"
    await b.send_json_to({"type": "pin", "message_id": "x", "on": True})
    assert (await receive(b, "error"))["code"] == "invalid"
    assert not await db(Pin.objects.exists)()


# ---- Reports ---------------------------------------------------------------------------------


def test_one_open_report_per_reporter_and_message(public_room, alice, bob, carol):
    message = post(public_room, alice, "rude")
    moderation.report_create(room=public_room, reporter=bob, message_id=message.pk, reason="rude")
    with pytest.raises(Refused) as again:
        moderation.report_create(
            room=public_room, reporter=bob, message_id=message.pk, reason="still"
        )
    assert again.value.code == "duplicate"
    moderation.report_create(room=public_room, reporter=carol, message_id=message.pk, reason="x")
    assert Report.objects.count() == 2


@pytest.mark.parametrize("reason", ["", "   ", None, 12, "x" * 501])
def test_a_report_needs_a_bounded_reason(public_room, alice, bob, reason):
    message = post(public_room, alice, "hmm")
    with pytest.raises(Refused):
        moderation.report_create(
            room=public_room, reporter=bob, message_id=message.pk, reason=reason
        )
    assert not Report.objects.exists()


def test_nobody_reports_their_own_or_a_private_rooms_message_from_outside(
    public_room, private_room, alice, bob, carol
):
    own = post(public_room, bob, "mine")
    with pytest.raises(Refused):
        moderation.report_create(room=public_room, reporter=bob, message_id=own.pk, reason="x")
    secret = post(private_room, alice, "secret")
    with pytest.raises(Forbidden):
        moderation.report_create(
            room=private_room, reporter=carol, message_id=secret.pk, reason="x"
        )
    with pytest.raises(NotFound):  # another room's message
        moderation.report_create(room=public_room, reporter=carol, message_id=secret.pk, reason="x")
    assert not Report.objects.exists()


async def test_report_frame_is_answered_to_the_reporter_only_and_rate_limited(
    connect_ws, public_room, alice, bob, settings
):
    settings.CHAT_REPORT_RATE_LIMIT = "2/60"
    ids = [(await db(post)(public_room, alice, f"m{i}")).pk for i in range(3)]
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    for pk in ids[:2]:
        await b.send_json_to({"type": "report", "message_id": pk, "reason": "<b>spam</b>"})
        assert await receive(b, "reported") == {"type": "reported", "message_id": pk}
    await b.send_json_to({"type": "report", "message_id": ids[2], "reason": "spam"})
    error = await receive(b, "error")
    assert error["code"] == "rate_limited" and error["message_id"] == ids[2]
    assert await db(Report.objects.count)() == 2
    await assert_silent(a)  # the author hears nothing of it


def test_reports_are_staff_only_in_the_admin_and_reasons_are_escaped(
    public_room, alice, bob, make_user
):
    message = post(public_room, alice, "bad")
    report = moderation.report_create(
        room=public_room, reporter=bob, message_id=message.pk, reason="<script>x()</script>"
    )
    assert client_for(bob).get("/admin/chat/report/").status_code == 302  # to the admin login
    staff = make_user("ops", is_staff=True, is_superuser=True)
    page = client_for(staff).get(f"/admin/chat/report/{report.pk}/change/").content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<script>x()</script>" not in page


@pytest.mark.parametrize(
    ("action", "status"),
    [("delete", "deleted"), ("ban", "banned"), ("dismiss", "dismissed")],
)
def test_admin_actions_resolve_open_reports(
    public_room, alice, bob, carol, make_user, action, status
):
    services.room_join(room=public_room, user=bob)
    message = post(public_room, bob, "offensive")
    first = moderation.report_create(
        room=public_room, reporter=alice, message_id=message.pk, reason="a"
    )
    moderation.report_create(room=public_room, reporter=carol, message_id=message.pk, reason="b")
    staff = moderator(make_user)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_report", "change_report"])
    )
    response = client_for(staff).post(
        "/admin/chat/report/",
        {"action": f"resolve_{action}", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    assert set(Report.objects.values_list("status", flat=True)) == {status}
    message.refresh_from_db()
    assert message.deleted is (action == "delete")
    assert RoomBan.objects.filter(room=public_room, user=bob).exists() is (action == "ban")


def test_resolving_needs_the_permission_and_an_open_report(public_room, alice, bob, make_user):
    message = post(public_room, alice, "x")
    report = moderation.report_create(
        room=public_room, reporter=bob, message_id=message.pk, reason="r"
    )
    with pytest.raises(Forbidden):
        moderation.report_resolve(report_id=report.pk, actor=alice, action="dismiss")
    staff = moderator(make_user)
    with pytest.raises(Refused):
        moderation.report_resolve(report_id=report.pk, actor=staff, action="explode")
    moderation.report_resolve(report_id=report.pk, actor=staff, action="dismiss")
    with pytest.raises(Refused):
        moderation.report_resolve(report_id=report.pk, actor=staff, action="delete")
    assert not Message.objects.get(pk=message.pk).deleted


# ---- Blocks ------------------------------------------------------------------------------------


def test_blocking_yourself_is_refused_and_blocking_twice_changes_nothing(alice, bob):
    with pytest.raises(Refused):
        account_services.user_block(user=alice, username="alice")
    account_services.user_block(user=alice, username="bob")
    account_services.user_block(user=alice, username="@BOB")
    assert Block.objects.count() == 1
    with pytest.raises(NotFound):
        account_services.user_block(user=alice, username="nobody")


def test_a_block_stops_direct_conversations_both_ways(alice, bob):
    room = services.direct_room_open(user=alice, username="bob")
    account_services.user_block(user=alice, username="bob")
    for user, other in ((bob, "alice"), (alice, "bob")):
        with pytest.raises(Forbidden) as refused:
            services.direct_room_open(user=user, username=other)
        assert refused.value.code == "blocked"
    with pytest.raises(Forbidden):
        post(room, bob, "hello?")
    assert not Message.objects.filter(room=room).exists()
    account_services.user_unblock(user=alice, username="bob")
    assert services.direct_room_open(user=bob, username="alice").pk == room.pk
    post(room, bob, "hello again")


def test_a_blocked_users_mention_notifies_nobody_who_blocks_them(public_room, alice, bob, carol):
    services.room_join(room=public_room, user=bob)
    services.room_join(room=public_room, user=carol)
    account_services.user_block(user=alice, username="bob")
    post(public_room, bob, "hey @alice and @carol")
    assert not Notification.objects.filter(recipient=alice).exists()
    assert Notification.objects.filter(recipient=carol, kind="mention").exists()
    # The other way round is not blocked: alice's mention of bob notifies him.
    post(public_room, alice, "hi @bob")
    assert Notification.objects.filter(recipient=bob, kind="mention").exists()


def test_block_and_unblock_on_the_settings_page(alice, bob):
    client = client_for(alice)
    assert client.post(reverse("block"), {"username": "bob"}).status_code == 302
    assert Block.objects.filter(blocker=alice, blocked=bob).exists()
    page = client.get(reverse("settings")).content.decode()
    assert 'data-username="bob"' in page
    client.post(reverse("block"), {"username": "alice"})
    assert Block.objects.count() == 1
    client.post(reverse("unblock"), {"username": "bob"})
    assert not Block.objects.exists()
    assert client.get(reverse("block")).status_code == 405
