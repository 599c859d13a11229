"""Room events: edits, deletions, reactions and replies on `/ws/chat/<slug>/`
(docs/protocol.md, "Room events"), on the real Redis layer."""

import asyncio

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings

from chat import selectors, services
from chat.consumers import hello_cache
from chat.models import Membership, Message, MessageEdit, Reaction, Room, RoomEvent
from harness.sockets import assert_silent, db, open_room, receive
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


async def post(room, author, body: str, client_id: str, **extra):
    stored = await db(services.message_create)(
        room=room, author=author, body=body, client_id=client_id, **extra
    )
    return stored.message


async def refused(socket, frame: dict, code: str) -> dict:
    await socket.send_json_to(frame)
    error = await receive(socket, "error")
    assert error["code"] == code, error
    return error


def seqs(room: Room) -> list[int]:
    return list(RoomEvent.objects.filter(room=room).values_list("seq", flat=True))


# Frames and who may send them.


async def test_edit_reaches_every_socket_with_the_whole_state(connect_ws, public_room, alice, bob):
    message = await post(public_room, alice, "helo", "c1")
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await a.send_json_to({"type": "edit", "message_id": message.pk, "body": "**hello**"})
    for socket in (a, b):
        update = await receive(socket, "update")
        assert update["seq"] == 2 and update["kind"] == "edit"
        state = update["message"]
        assert state["id"] == message.pk and state["seq"] == 1
        assert state["body"] == "**hello**" and state["html"] == "<p><strong>hello</strong></p>"
        assert state["edited_at"].endswith("Z") and state["deleted"] is False
    edits = await db(lambda: list(MessageEdit.objects.values_list("body", flat=True)))()
    assert edits == ["helo"]


async def test_edit_that_changes_nothing_stores_and_sends_nothing(connect_ws, public_room, alice):
    message = await post(public_room, alice, "same", "c1")
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "edit", "message_id": message.pk, "body": "  same "})
    await assert_silent(a)
    assert await db(seqs)(public_room) == [1]


async def test_only_the_author_edits(connect_ws, public_room, alice, bob):
    message = await post(public_room, alice, "mine", "c1")
    b, _ = await open_room(connect_ws, public_room, bob)
    frame = {"type": "edit", "message_id": message.pk, "body": "yours"}
    error = await refused(b, frame, "forbidden")
    assert error["message_id"] == message.pk
    await refused(b, {"type": "edit", "message_id": message.pk, "body": " "}, "invalid")
    assert (await db(Message.objects.get)(pk=message.pk)).body == "mine"
    await b.send_json_to({"type": "ping"})
    assert (await receive(b, "pong"))["type"] == "pong"  # the socket stays open


async def test_edit_follows_the_body_rules(connect_ws, public_room, alice):
    message = await post(public_room, alice, "x", "c1")
    a, _ = await open_room(connect_ws, public_room, alice)
    frame = {"type": "edit", "message_id": message.pk, "body": "y" * 4001}
    assert (await refused(a, frame, "too_large"))["message_id"] == message.pk


@pytest.mark.parametrize("who", ["author", "owner", "moderator"])
async def test_delete_by_author_owner_or_moderator(connect_ws, public_room, alice, bob, carol, who):
    message = await post(public_room, bob, f"secret {HOSTILE}", "c1")
    await db(services.message_react)(
        room=public_room, actor=carol, message_id=message.pk, emoji="👍", on=True
    )
    if who == "moderator":
        permission = await db(Permission.objects.get)(codename="delete_message")
        await db(carol.user_permissions.add)(permission)
    actor = {"author": bob, "owner": alice, "moderator": carol}[who]
    socket, _ = await open_room(connect_ws, public_room, actor)
    await socket.send_json_to({"type": "delete", "message_id": message.pk})
    update = await receive(socket, "update")
    assert update["kind"] == "delete" and update["seq"] == 3
    state = update["message"]
    assert state["deleted"] is True and state["body"] == "" and state["html"] == ""
    assert state["reactions"] == [] and state["id"] == message.pk and state["seq"] == 1
    assert state["author"]["id"] == bob.pk
    stored = await db(Message.objects.get)(pk=message.pk)
    assert stored.deleted_by_id == actor.pk and stored.body == ""


async def test_other_members_and_non_members_may_not_delete(
    connect_ws, private_room, public_room, alice, bob, carol
):
    message = await post(public_room, alice, "mine", "c1")
    b, _ = await open_room(connect_ws, public_room, bob)
    error = await refused(b, {"type": "delete", "message_id": message.pk}, "forbidden")
    assert error["message_id"] == message.pk
    # Another room's message is unknown here, whoever asks.
    elsewhere = await post(private_room, alice, "private", "c2")
    a, _ = await open_room(connect_ws, public_room, alice)
    for frame in (
        {"type": "delete", "message_id": elsewhere.pk},
        {"type": "edit", "message_id": elsewhere.pk, "body": "x"},
        {"type": "react", "message_id": elsewhere.pk, "emoji": "👍", "on": True},
    ):
        assert (await refused(a, frame, "not_found"))["message_id"] == elsewhere.pk
    assert not (await db(Message.objects.get)(pk=elsewhere.pk)).deleted


async def test_non_member_of_a_private_room_is_refused_by_the_services(private_room, carol, alice):
    message = await post(private_room, alice, "x", "c1")
    for change in (
        lambda: services.message_delete(room=private_room, actor=carol, message_id=message.pk),
        lambda: services.message_react(
            room=private_room, actor=carol, message_id=message.pk, emoji="👍", on=True
        ),
    ):
        with pytest.raises(services.RoomForbidden):
            await db(change)()


async def test_a_deleted_message_is_not_found(connect_ws, public_room, alice):
    message = await post(public_room, alice, "x", "c1")
    await db(services.message_delete)(room=public_room, actor=alice, message_id=message.pk)
    a, _ = await open_room(connect_ws, public_room, alice)
    for frame in (
        {"type": "delete", "message_id": message.pk},
        {"type": "edit", "message_id": message.pk, "body": "y"},
        {"type": "react", "message_id": message.pk, "emoji": "👍", "on": True},
        {"type": "send", "body": "re", "client_id": "c9", "reply_to": message.pk},
    ):
        await refused(a, frame, "not_found")
    assert await db(seqs)(public_room) == [1, 2]


async def test_bad_frames_are_invalid(connect_ws, public_room, alice):
    message = await post(public_room, alice, "x", "c1")
    a, _ = await open_room(connect_ws, public_room, alice)
    await refused(a, {"type": "edit", "message_id": "1", "body": "y"}, "invalid")
    await refused(a, {"type": "delete"}, "invalid")
    react = {"type": "react", "message_id": message.pk, "emoji": "👍"}
    assert (await refused(a, react, "invalid"))["message_id"] == message.pk
    for emoji in ("", "ok", "👍👍", "a👍", "<b>", "👍" * 9, 5):
        frame = {**react, "on": True, "emoji": emoji}
        assert (await refused(a, frame, "invalid"))["message_id"] == message.pk
    await refused(a, {"type": "catch_up", "after": -1}, "invalid")
    await refused(a, {"type": "send", "body": "x", "client_id": "c", "reply_to": "7"}, "invalid")
    assert await db(seqs)(public_room) == [1]


async def test_reactions_are_idempotent_and_grouped(connect_ws, public_room, alice, bob):
    message = await post(public_room, alice, "x", "c1")
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    for socket in (a, b):
        await socket.send_json_to(
            {"type": "react", "message_id": message.pk, "emoji": "👍", "on": True}
        )
        assert (await receive(a, "update"))["kind"] == "reaction"
        assert (await receive(b, "update"))["kind"] == "reaction"
    await b.send_json_to({"type": "react", "message_id": message.pk, "emoji": "👍🏽", "on": True})
    update = await receive(a, "update")
    assert update["message"]["reactions"] == [
        {"emoji": "👍", "count": 2, "user_ids": [alice.pk, bob.pk]},
        {"emoji": "👍🏽", "count": 1, "user_ids": [bob.pk]},
    ]
    await receive(b, "update")
    # Doing what is done: nothing stored, nothing sent.
    await b.send_json_to({"type": "react", "message_id": message.pk, "emoji": "👍", "on": True})
    await a.send_json_to({"type": "react", "message_id": message.pk, "emoji": "🎉", "on": False})
    await assert_silent(a)
    await assert_silent(b)
    await b.send_json_to({"type": "react", "message_id": message.pk, "emoji": "👍", "on": False})
    update = await receive(a, "update")
    assert update["message"]["reactions"][0] == {"emoji": "👍", "count": 1, "user_ids": [alice.pk]}
    assert await db(seqs)(public_room) == [1, 2, 3, 4, 5]


async def test_twenty_distinct_emoji_at_most(public_room, alice, bob):
    message = await post(public_room, alice, "x", "c1")
    emoji = "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚🙂"
    assert len(emoji) == 20
    for one in emoji:
        await db(services.message_react)(
            room=public_room, actor=alice, message_id=message.pk, emoji=one, on=True
        )
    with pytest.raises(services.Refused):
        await db(services.message_react)(
            room=public_room, actor=bob, message_id=message.pk, emoji="🤗", on=True
        )
    # One already there may still be added by someone else.
    await db(services.message_react)(
        room=public_room, actor=bob, message_id=message.pk, emoji="🙂", on=True
    )
    assert await db(Reaction.objects.filter(message=message).count)() == 21


async def test_reply_to_carries_an_excerpt_and_another_rooms_id_is_not_found(
    connect_ws, public_room, private_room, alice
):
    original = await post(public_room, alice, "o" * 200, "c1")
    elsewhere = await post(private_room, alice, "x", "c2")
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "send", "body": "re", "client_id": "c3", "reply_to": original.pk})
    reply = (await receive(a, "message"))["message"]["reply_to"]
    assert reply["id"] == original.pk and reply["seq"] == 1 and reply["deleted"] is False
    assert reply["author"]["id"] == alice.pk and len(reply["excerpt"]) == 140
    frame = {"type": "send", "body": "re", "client_id": "c4", "reply_to": elsewhere.pk}
    assert (await refused(a, frame, "not_found"))["client_id"] == "c4"


@override_settings(CHAT_SEND_RATE_LIMIT="2/60")
async def test_edits_and_reactions_count_toward_the_send_rate(connect_ws, public_room, alice):
    message = await post(public_room, alice, "x", "c1")
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "edit", "message_id": message.pk, "body": "y"})
    await receive(a, "update")
    await a.send_json_to({"type": "react", "message_id": message.pk, "emoji": "👍", "on": True})
    await receive(a, "update")
    error = await refused(
        a, {"type": "react", "message_id": message.pk, "emoji": "🎉", "on": True}, "rate_limited"
    )
    assert error["message_id"] == message.pk


# Resume, catch_up, hello.


async def changes_while_away(room, alice, bob) -> tuple[Message, Message, Message]:
    kept = await post(room, alice, "kept", "c1")
    gone = await post(room, alice, "secret words", "c2")
    reply = await post(room, bob, "re", "c3", reply_to=gone.pk)
    # A client saw up to seq 3, then left. While it was away:
    await db(services.message_edit)(room=room, actor=alice, message_id=kept.pk, body="edited")
    await db(services.message_react)(room=room, actor=bob, message_id=kept.pk, emoji="👍", on=True)
    await db(services.message_edit)(room=room, actor=alice, message_id=gone.pk, body="more secret")
    await db(services.message_delete)(room=room, actor=alice, message_id=gone.pk)
    await post(room, bob, "new", "c4")
    return kept, gone, reply


async def test_resume_gets_every_change_once_in_order(connect_ws, public_room, alice, bob):
    await changes_while_away(public_room, alice, bob)
    a, hello = await open_room(connect_ws, public_room, alice, "?after=3")
    assert hello["last_seq"] == 8 and [m["seq"] for m in hello["messages"]] == [8]
    updates = [await receive(a, "update") for _ in range(4)]
    assert [u["seq"] for u in updates] == [4, 5, 6, 7]
    assert [u["kind"] for u in updates] == ["edit", "reaction", "edit", "delete"]
    assert updates[1]["message"]["body"] == "edited"
    assert updates[1]["message"]["reactions"][0]["emoji"] == "👍"
    await assert_silent(a)
    # The deleted message's own earlier events carry it deleted.
    assert "secret" not in str(updates)


async def test_catch_up_returns_the_stored_frames_in_pages(connect_ws, public_room, alice, bob):
    await changes_while_away(public_room, alice, bob)
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "catch_up", "after": 0})
    page = await receive(a, "catch_up")
    assert page["after"] == 0 and page["has_more"] is False
    assert [e.get("seq", e.get("message", {}).get("seq")) for e in page["events"]] == list(
        range(1, 9)
    )
    assert [e["type"] for e in page["events"]] == ["message"] * 3 + ["update"] * 4 + ["message"]
    text = str(page["events"])
    assert "secret" not in text
    # The reply to the deleted message no longer quotes it.
    reply = page["events"][2]["message"]["reply_to"]
    assert reply["deleted"] is True and reply["excerpt"] == ""
    await a.send_json_to({"type": "catch_up", "after": 8})
    assert (await receive(a, "catch_up"))["events"] == []


async def test_catch_up_has_more_past_500(connect_ws, public_room, alice):
    message = await post(public_room, alice, "x", "c1")
    for n in range(501):
        await db(services.message_react)(
            room=public_room, actor=alice, message_id=message.pk, emoji="👍", on=n % 2 == 0
        )
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "catch_up", "after": 0})
    page = await receive(a, "catch_up")
    assert page["has_more"] is True and len(page["events"]) == 500
    await a.send_json_to({"type": "catch_up", "after": 500})
    page = await receive(a, "catch_up")
    assert page["has_more"] is False and [e["seq"] for e in page["events"]] == [501, 502]


async def test_hello_and_history_give_current_state(connect_ws, public_room, alice, bob):
    kept, gone, reply = await changes_while_away(public_room, alice, bob)
    a, hello = await open_room(connect_ws, public_room, alice)
    by_id = {m["id"]: m for m in hello["messages"]}
    assert by_id[kept.pk]["body"] == "edited" and by_id[kept.pk]["reactions"][0]["count"] == 1
    assert by_id[gone.pk]["deleted"] is True and by_id[gone.pk]["body"] == ""
    assert by_id[reply.pk]["reply_to"]["deleted"] is True
    assert "secret" not in str(hello)
    await a.send_json_to({"type": "history"})
    history = await receive(a, "history")
    assert history["messages"] == hello["messages"]


async def test_hello_cache_follows_edits(connect_ws, public_room, alice):
    message = await post(public_room, alice, "before", "c1")
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["messages"][0]["body"] == "before"
    assert hello_cache.get(public_room.pk, 1) is not None
    await db(services.message_edit)(
        room=public_room, actor=alice, message_id=message.pk, body="after"
    )
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["last_seq"] == 2 and hello["messages"][0]["body"] == "after"
    await db(services.message_react)(
        room=public_room, actor=alice, message_id=message.pk, emoji="👍", on=True
    )
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["messages"][0]["reactions"][0]["emoji"] == "👍"


async def test_concurrent_sends_and_edits_keep_seq_gap_free(public_room, alice, bob):
    first = await post(public_room, alice, "x", "c0")

    def edit(n: int) -> None:
        services.message_edit(room=public_room, actor=alice, message_id=first.pk, body=f"e{n}")

    def send(n: int) -> None:
        services.message_create(room=public_room, author=bob, body=f"m{n}", client_id=f"c{n + 1}")

    await asyncio.gather(*[asyncio.to_thread(edit if n % 2 else send, n) for n in range(20)])
    room = await db(Room.objects.get)(pk=public_room.pk)
    assert await db(seqs)(public_room) == list(range(1, room.last_seq + 1))
    assert room.last_seq == 21


# Unread counts, pages, notifications.


async def test_unread_counts_messages_only(public_room, alice, bob):
    message = await post(public_room, alice, "x", "c1")
    await db(services.room_join)(room=public_room, user=bob)
    await db(Membership.objects.filter(user=bob).update)(last_read_seq=1)
    await db(services.message_edit)(room=public_room, actor=alice, message_id=message.pk, body="y")
    await db(services.message_react)(
        room=public_room, actor=alice, message_id=message.pk, emoji="👍", on=True
    )
    summaries = await db(selectors.rooms_for_user)(user=bob)
    assert summaries[0].unread == 0 and summaries[0].last_message.pk == message.pk
    second = await post(public_room, alice, "new", "c2")
    third = await post(public_room, alice, "newer", "c3")
    await db(services.message_delete)(room=public_room, actor=alice, message_id=second.pk)
    summaries = await db(selectors.rooms_for_user)(user=bob)
    assert summaries[0].unread == 1 and summaries[0].last_message.pk == third.pk


async def test_a_deleted_message_leaves_no_body_in_pages_or_notifications(
    client, public_room, alice, bob
):
    await db(services.room_join)(room=public_room, user=bob)
    message = await post(public_room, alice, f"@bob secret {HOSTILE}", "c1")
    note = await db(Notification.objects.get)(recipient=bob)
    assert "secret" in note.body and note.target == f"chat.message:{message.pk}"
    await db(services.message_delete)(room=public_room, actor=alice, message_id=message.pk)
    assert (await db(Notification.objects.get)(pk=note.pk)).body == ""
    await db(client.force_login)(bob)
    for url in ("/chat/", f"/chat/{public_room.slug}/", "/notifications/"):
        page = await db(client.get)(url)
        assert page.status_code == 200 and "secret" not in page.content.decode()


async def test_an_edit_mentions_the_newly_mentioned_once(public_room, alice, bob, carol):
    for user in (bob, carol):
        await db(services.room_join)(room=public_room, user=user)
    message = await post(public_room, alice, "hi @bob", "c1")
    for body in ("hi @bob @carol", "hi @carol @bob!", "bye @carol"):
        await db(services.message_edit)(
            room=public_room, actor=alice, message_id=message.pk, body=body
        )
    notes = await db(
        lambda: sorted(Notification.objects.values_list("recipient__username", flat=True))
    )()
    assert notes == ["bob", "carol"]


async def test_admin_delete_is_a_room_event(connect_ws, client, public_room, alice, make_user):
    staff = await db(make_user)("staff", is_staff=True, is_superuser=True)
    message = await post(public_room, alice, "spam", "c1")
    await db(services.message_edit)(
        room=public_room, actor=alice, message_id=message.pk, body="spam!"
    )
    a, _ = await open_room(connect_ws, public_room, alice)
    await db(client.force_login)(staff)
    change = await db(client.get)(f"/admin/chat/message/{message.pk}/change/")
    assert "spam" in change.content.decode()  # the edit history, for staff
    response = await db(client.post)(f"/admin/chat/message/{message.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    update = await receive(a, "update")
    assert update["kind"] == "delete" and update["message"]["body"] == ""
    stored = await db(Message.objects.get)(pk=message.pk)
    assert stored.deleted and stored.deleted_by_id == staff.pk
    assert not await db(MessageEdit.objects.filter(message=message).exists)()
