"""Every rule of `/ws/chat/<slug>/` (docs/protocol.md), on the real Redis layer."""

import asyncio
import json
import time

import pytest
import redis
from django.conf import settings
from django.test import Client, override_settings

from chat import services, writer
from chat.consumers import ChatConsumer
from chat.models import Membership, Message
from harness.sockets import db, expect_close, open_room, receive
from realtime import transport

pytestmark = pytest.mark.django_db(transaction=True)


async def post(room, author, n: int):
    return await db(services.message_create)(
        room=room, author=author, body=f"message {n}", client_id=f"seed-{n}"
    )


# Refusals


async def test_anonymous_is_refused_with_4401_and_no_frame(connect_ws, public_room):
    communicator, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/")
    assert connected
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_forged_session_cookie_is_anonymous(connect_ws, public_room):
    communicator, connected, _ = await connect_ws(
        f"/ws/chat/{public_room.slug}/", cookie="forged-session-key"
    )
    assert connected
    await expect_close(communicator, 4401)


async def test_unknown_room_is_4404(connect_ws, alice):
    communicator, connected, _ = await connect_ws("/ws/chat/nowhere/", alice)
    assert connected
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


async def test_private_room_refuses_non_member_with_4403(connect_ws, private_room, carol):
    communicator, connected, _ = await connect_ws(f"/ws/chat/{private_room.slug}/", carol)
    assert connected
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "http://evil.example",
        "http://testserver.evil.tld",
        "https://testserver",
        "http://testserver:8080",
        "ws://testserver",
    ],
)
async def test_foreign_or_missing_origin_is_refused(connect_ws, public_room, alice, origin):
    _, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/", alice, origin=origin)
    assert not connected


@override_settings(CSRF_TRUSTED_ORIGINS=["https://chat.example.com"])
async def test_trusted_origin_is_accepted(connect_ws, public_room, alice):
    _, connected, _ = await connect_ws(
        f"/ws/chat/{public_room.slug}/", alice, origin="https://chat.example.com"
    )
    assert connected


# hello and resume


async def test_hello_has_room_user_online_and_latest_50(connect_ws, public_room, alice):
    for n in range(60):
        await post(public_room, alice, n)
    _, hello = await open_room(connect_ws, public_room, alice)
    assert hello["room"] == {"slug": "general", "name": "General", "kind": "public"}
    assert hello["user"] == {"id": alice.pk, "username": "alice"}
    assert hello["last_seq"] == 60
    assert hello["online"] == [{"id": alice.pk, "username": "alice"}]
    assert [m["seq"] for m in hello["messages"]] == list(range(11, 61))
    assert "truncated" not in hello
    message = hello["messages"][-1]
    assert set(message) == {
        "id",
        "seq",
        "room",
        "author",
        "body",
        "created_at",
        "client_id",
        "html",
        "reply_to",
        "edited_at",
        "deleted",
        "reactions",
        "attachments",
    }
    assert message["created_at"].endswith("Z") and message["room"] == "general"


async def test_resume_after_returns_exactly_the_missed_messages(connect_ws, public_room, alice):
    for n in range(10):
        await post(public_room, alice, n)
    _, hello = await open_room(connect_ws, public_room, alice, "?after=7")
    assert [m["seq"] for m in hello["messages"]] == [8, 9, 10]
    _, hello = await open_room(connect_ws, public_room, alice, "?after=10")
    assert hello["messages"] == [] and hello["last_seq"] == 10


async def test_resume_over_500_missing_is_truncated_to_latest_500(connect_ws, public_room, alice):
    await db(Message.objects.bulk_create)(
        [
            Message(room=public_room, seq=n, author=alice, body="x", client_id=f"b{n}")
            for n in range(1, 602)
        ]
    )
    await db(type(public_room).objects.filter(pk=public_room.pk).update)(last_seq=601)
    _, hello = await open_room(connect_ws, public_room, alice, "?after=0")
    assert hello["truncated"] is True
    assert [m["seq"] for m in hello["messages"]] == list(range(102, 602))


async def test_bad_after_gets_an_error_then_latest(connect_ws, public_room, alice):
    communicator, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/?after=-3", alice)
    assert connected
    error = await receive(communicator, "error")
    assert error["code"] == "invalid"
    await receive(communicator, "hello")


# send


async def test_send_is_stored_then_echoed_to_every_socket(connect_ws, public_room, alice, bob):
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await b.send_json_to({"type": "send", "body": "  hi there  ", "client_id": "c-1"})
    for communicator in (a, b):
        frame = await receive(communicator, "message")
        assert frame["message"]["body"] == "hi there"
        assert frame["message"]["author"] == {"id": bob.pk, "username": "bob"}
        assert frame["message"]["seq"] == 1 and frame["message"]["client_id"] == "c-1"
    assert await db(Message.objects.filter(room=public_room).count)() == 1


async def test_resend_gets_original_back_on_that_socket_only(connect_ws, public_room, alice, bob):
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await a.send_json_to({"type": "send", "body": "once", "client_id": "c-9"})
    original = (await receive(a, "message"))["message"]
    await receive(b, "message")
    await a.send_json_to({"type": "send", "body": "twice", "client_id": "c-9"})
    again = (await receive(a, "message"))["message"]
    assert (again["id"], again["seq"], again["body"]) == (original["id"], original["seq"], "once")
    await b.send_json_to({"type": "ping"})
    assert (await receive(b, "pong"))["type"] == "pong"  # nothing else reached bob
    assert await db(Message.objects.count)() == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "send", "body": "", "client_id": "c-1"}, "invalid"),
        ({"type": "send", "body": "x" * 4001, "client_id": "c-1"}, "too_large"),
        ({"type": "send", "body": ["x"], "client_id": "c-1"}, "invalid"),
        ({"type": "send", "body": "hi"}, "invalid"),
        ({"type": "send", "body": "hi", "client_id": "x" * 65}, "invalid"),
    ],
)
async def test_bad_send_gets_error_and_stores_nothing(connect_ws, public_room, alice, frame, code):
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to(frame)
    error = await receive(a, "error")
    assert error["code"] == code and error["detail"]
    if frame.get("client_id") == "c-1":
        assert error["client_id"] == "c-1"
    assert await db(Message.objects.count)() == 0


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '"a string"',
        "{}",
        '{"type": 5}',
        '{"type": "chat.message", "text": "x"}',
        '{"type": "realtime.session_ended"}',
        '{"type": "dance"}',
        "[" * 50000,
    ],
)
async def test_malformed_frames_get_invalid_and_socket_stays_open(
    connect_ws, public_room, alice, text
):
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_to(text_data=text)
    assert (await receive(a, "error"))["code"] == "invalid"
    await a.send_json_to({"type": "ping"})
    assert (await receive(a, "pong"))["type"] == "pong"


async def test_binary_frame_is_invalid(connect_ws, public_room, alice):
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_to(bytes_data=b"\x00\xff")
    assert (await receive(a, "error"))["code"] == "invalid"


async def test_frame_over_64_kib_is_closed_with_4413(connect_ws, public_room, alice):
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_to(text_data=json.dumps({"type": "send", "body": "x" * 70000, "client_id": "c"}))
    await expect_close(a, 4413)
    assert await db(Message.objects.count)() == 0


@override_settings(CHAT_SEND_RATE_LIMIT="2/60")
async def test_a_send_right_behind_a_refused_one_waits_too_so_order_holds(
    connect_ws, public_room, alice
):
    socket, _ = await open_room(connect_ws, public_room, alice)
    for n in (1, 2):
        await socket.send_json_to({"type": "send", "body": f"m{n}", "client_id": f"c{n}"})
        assert (await receive(socket, "message"))["message"]["seq"] == n
    await socket.send_json_to({"type": "send", "body": "m3", "client_id": "c3"})
    refused = await receive(socket, "error")
    assert (refused["code"], refused["client_id"]) == ("rate_limited", "c3")
    # A slot frees right now (as the oldest send leaves the window): the send
    # pipelined behind the refused one must still not overtake it.
    redis.Redis.from_url(settings.REDIS_URL).delete(f"rl:send:{alice.pk}")
    await socket.send_json_to({"type": "send", "body": "m4", "client_id": "c4"})
    held = await receive(socket, "error")
    assert (held["code"], held["client_id"]) == ("rate_limited", "c4")
    assert 0 < held["retry_after"] <= refused["retry_after"]
    assert await db(Message.objects.count)() == 2


@override_settings(CHAT_SEND_RATE_LIMIT="3/60")
async def test_rate_limit_is_shared_by_all_sockets_then_floods_close(
    connect_ws, public_room, alice
):
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, alice)
    for n in range(3):
        await (a if n % 2 else b).send_json_to({"type": "send", "body": "m", "client_id": f"c{n}"})
        await receive(a, "message")
        await receive(b, "message")
    await b.send_json_to({"type": "send", "body": "m", "client_id": "c-over"})
    error = await receive(b, "error")
    assert error["code"] == "rate_limited" and error["client_id"] == "c-over"
    assert 0 < error["retry_after"] <= 60
    assert await db(Message.objects.count)() == 3
    for n in range(6):  # attempts 5..10 of a 3-per-window limit: the 10th is over 3x
        await a.send_json_to({"type": "send", "body": "m", "client_id": f"f{n}"})
    await expect_close(a, 4429)
    assert await db(Message.objects.count)() == 3


@override_settings(CHAT_SEND_RATE_LIMIT="0")
async def test_rate_limit_zero_turns_it_off(connect_ws, public_room, alice):
    a, _ = await open_room(connect_ws, public_room, alice)
    for n in range(25):
        await a.send_json_to({"type": "send", "body": "m", "client_id": f"c{n}"})
    seqs = [(await receive(a, "message"))["message"]["seq"] for _ in range(25)]
    assert sorted(seqs) == list(range(1, 26))


@override_settings(CHAT_SEND_RATE_LIMIT="0")
async def test_sends_in_a_row_share_batches_and_keep_their_order(connect_ws, public_room, alice):
    a, _ = await open_room(connect_ws, public_room, alice)
    batches_before = writer.writer.batches
    # All 30 wait in the socket's queue before it reads the first: each is
    # queued for the writer as it is read, without waiting for the one before.
    for n in range(30):
        await a.send_json_to({"type": "send", "body": f"m{n}", "client_id": f"c{n}"})
    frames = [(await receive(a, "message"))["message"] for _ in range(30)]
    assert sorted((m["seq"], m["body"]) for m in frames) == [(n + 1, f"m{n}") for n in range(30)]
    # One send at a time would be 30 batches.
    assert writer.writer.batches - batches_before <= 15


@override_settings(CHAT_SEND_RATE_LIMIT="0")
async def test_an_answer_never_overtakes_the_sends_before_it(
    connect_ws, public_room, alice, monkeypatch
):
    store_sends = writer.writer.handler

    def slow_store(sends):
        time.sleep(0.3)  # the history frame is read long before the batch commits
        return store_sends(sends)

    monkeypatch.setattr(writer.writer, "handler", slow_store)
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "send", "body": "first", "client_id": "c-1"})
    await a.send_json_to({"type": "send", "body": "", "client_id": "c-empty"})
    await a.send_json_to({"type": "send", "body": "second", "client_id": "c-2"})
    await a.send_json_to({"type": "history"})
    answers = []
    while len(answers) < 2:
        frame = await receive(a)
        if frame["type"] in {"error", "history"}:
            answers.append(frame)
    refused, history = answers
    assert (refused["code"], refused["client_id"]) == ("invalid", "c-empty")
    # The history was read once the sends before it were stored: both are in
    # it, with no seq for the refused one.
    assert [(m["seq"], m["body"]) for m in history["messages"]] == [(1, "first"), (2, "second")]


@override_settings(CHAT_SEND_RATE_LIMIT="0")
async def test_a_client_far_ahead_waits_for_its_sends(connect_ws, public_room, alice, monkeypatch):
    monkeypatch.setattr(transport, "IN_FLIGHT_MAX", 2)
    store_sends = writer.writer.handler

    def slow_store(sends):
        time.sleep(0.05)
        return store_sends(sends)

    monkeypatch.setattr(writer.writer, "handler", slow_store)
    a, _ = await open_room(connect_ws, public_room, alice)
    for n in range(7):
        await a.send_json_to({"type": "send", "body": f"m{n}", "client_id": f"c{n}"})
    await a.send_json_to({"type": "history"})
    history = await receive(a)
    while history["type"] != "history":  # the live message frames come too
        history = await receive(a)
    assert [(m["seq"], m["body"]) for m in history["messages"]] == [
        (n + 1, f"m{n}") for n in range(7)
    ]


@override_settings(CHAT_SEND_RATE_LIMIT="0")
async def test_a_failure_to_answer_one_send_leaves_the_next_ones_answered_in_order(
    connect_ws, public_room, alice, monkeypatch, caplog
):
    """Answering the first refused send fails (as a write to a socket going
    away would); the refusal of the second still comes, before the history
    frame sent behind it."""
    frame_failed = ChatConsumer.frame_failed
    failures = []

    async def failing_once(self, error, frame):
        if not failures:
            failures.append(frame.get("client_id"))
            raise ConnectionResetError("the write failed")
        await frame_failed(self, error, frame)

    monkeypatch.setattr(ChatConsumer, "frame_failed", failing_once)
    store_sends = writer.writer.handler

    def slow_store(sends):
        time.sleep(0.2)  # every frame below is read before the batch commits
        return store_sends(sends)

    monkeypatch.setattr(writer.writer, "handler", slow_store)
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "send", "body": "", "client_id": "c-empty-1"})
    await a.send_json_to({"type": "send", "body": "", "client_id": "c-empty-2"})
    await a.send_json_to({"type": "history"})

    refused = await receive(a)
    history = await receive(a)
    assert failures == ["c-empty-1"]
    assert (refused["type"], refused.get("client_id")) == ("error", "c-empty-2")
    assert history["type"] == "history"
    assert "answering a failed 'send' frame failed" in caplog.text


@override_settings(CHAT_SEND_RATE_LIMIT="0")
async def test_sends_read_before_the_socket_closed_are_stored(
    connect_ws, public_room, alice, caplog
):
    a, _ = await open_room(connect_ws, public_room, alice)
    for n in range(5):
        await a.send_json_to({"type": "send", "body": f"m{n}", "client_id": f"c{n}"})
    await a.disconnect()  # read right behind the sends, before any is stored
    count = db(Message.objects.filter(room=public_room).count)
    for _ in range(500):
        if await count() == 5:
            break
        await asyncio.sleep(0.01)
    assert await count() == 5
    assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]


async def test_sending_in_public_room_joins_it(connect_ws, public_room, bob):
    b, _ = await open_room(connect_ws, public_room, bob)
    await b.send_json_to({"type": "send", "body": "hi", "client_id": "c-1"})
    await receive(b, "message")
    assert await db(Membership.objects.filter(room=public_room, user=bob).exists)()


# history, typing, read, ping


async def test_history_pages_back_exclusive_of_before_seq(connect_ws, public_room, alice):
    for n in range(120):
        await post(public_room, alice, n)
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "history", "before_seq": 71, "limit": 20})
    page = await receive(a, "history")
    assert page["before_seq"] == 71
    assert [m["seq"] for m in page["messages"]] == list(range(51, 71))
    assert page["has_more"] is True
    await a.send_json_to({"type": "history", "before_seq": 6})
    page = await receive(a, "history")
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4, 5] and page["has_more"] is False
    await a.send_json_to({"type": "history"})
    page = await receive(a, "history")
    assert [m["seq"] for m in page["messages"]] == list(range(71, 121))


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "history", "limit": 0},
        {"type": "history", "limit": 101},
        {"type": "history", "before_seq": "10"},
        {"type": "history", "limit": True},
    ],
)
async def test_bad_history_frame_is_invalid(connect_ws, public_room, alice, frame):
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to(frame)
    assert (await receive(a, "error"))["code"] == "invalid"


@override_settings(CHAT_HISTORY_RATE_LIMIT="3/60")
async def test_history_is_limited_per_user_across_sockets(connect_ws, public_room, alice, bob):
    for n in range(10):
        await post(public_room, alice, n)
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, alice)
    for n in range(3):
        await (a if n % 2 else b).send_json_to({"type": "history", "before_seq": 10 - n})
        assert (await receive(a if n % 2 else b, "history"))["before_seq"] == 10 - n
    await b.send_json_to({"type": "history", "before_seq": 5, "limit": 2})
    error = await receive(b, "error")
    assert error["code"] == "rate_limited" and error["before_seq"] == 5
    assert 0 < error["retry_after"] <= 60
    await a.send_json_to({"type": "history"})
    error = await receive(a, "error")
    assert error["code"] == "rate_limited" and error["before_seq"] is None
    # Another user has a budget of their own.
    c, _ = await open_room(connect_ws, public_room, bob)
    await c.send_json_to({"type": "history"})
    assert len((await receive(c, "history"))["messages"]) == 10
    for _ in range(5):  # attempts 6..10 of a 3-per-window limit: the 10th is over 3x
        await a.send_json_to({"type": "history"})
    await expect_close(a, 4429)


@override_settings(CHAT_HISTORY_BYTES_LIMIT="1600/60")
async def test_history_bytes_are_budgeted(connect_ws, public_room, alice):
    for n in range(10):
        await post(public_room, alice, n)
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "history", "before_seq": 11, "limit": 4})
    page = await receive(a, "history")
    assert 800 < len(json.dumps(page["messages"])) < 1600  # 4 of these fit 1,600 bytes
    await a.send_json_to({"type": "history", "before_seq": 7, "limit": 4})
    error = await receive(a, "error")
    assert error["code"] == "rate_limited" and error["before_seq"] == 7


@override_settings(CHAT_TYPING_RATE_LIMIT="1/60")
async def test_typing_is_limited_per_user_across_sockets(connect_ws, public_room, alice, bob):
    a1, _ = await open_room(connect_ws, public_room, alice)
    a2, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await a1.send_json_to({"type": "typing"})
    assert (await receive(b, "typing"))["user"]["id"] == alice.pk
    # The second socket's typing is dropped: the next thing bob hears from the room
    # is the message sent after it (both leave this process in order).
    await a2.send_json_to({"type": "typing"})
    await a2.send_json_to({"type": "send", "body": "after typing", "client_id": "c-1"})
    assert (await receive(b, "message"))["message"]["body"] == "after typing"
    # bob's typing has a budget of its own.
    await receive(a1, "message")
    await b.send_json_to({"type": "typing"})
    assert (await receive(a1, "typing"))["user"]["id"] == bob.pk


@override_settings(REALTIME_READ_RATE_LIMIT="2/60")
async def test_read_marks_are_limited_and_a_refused_one_stores_nothing(
    connect_ws, public_room, alice
):
    for n in range(5):
        await post(public_room, alice, n)
    await db(Membership.objects.filter(room=public_room, user=alice).update)(last_read_seq=0)
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "read", "seq": 1})
    await a.send_json_to({"type": "ping"})  # a socket handles its frames in order
    await receive(a, "pong")
    await b.send_json_to({"type": "read", "seq": 2})
    await b.send_json_to({"type": "read", "seq": 5})
    error = await receive(b, "error")
    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    membership = await db(Membership.objects.get)(room=public_room, user=alice)
    assert membership.last_read_seq == 2


async def test_typing_reaches_others_not_the_sender(connect_ws, public_room, alice, bob):
    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await a.send_json_to({"type": "typing"})
    frame = await receive(b, "typing")
    assert frame["user"] == {"id": alice.pk, "username": "alice"}
    await a.send_json_to({"type": "ping"})
    assert (await receive(a, "pong"))["type"] == "pong"


async def test_read_stores_progress_and_never_moves_back(connect_ws, public_room, alice):
    for n in range(5):
        await post(public_room, alice, n)
    await db(Membership.objects.filter(room=public_room, user=alice).update)(last_read_seq=0)
    a, _ = await open_room(connect_ws, public_room, alice)
    await a.send_json_to({"type": "read", "seq": 4})
    await a.send_json_to({"type": "read", "seq": 2})
    await a.send_json_to({"type": "read", "seq": "x"})
    assert (await receive(a, "error"))["code"] == "invalid"
    membership = await db(Membership.objects.get)(room=public_room, user=alice)
    assert membership.last_read_seq == 4


# presence


async def next_presence(communicator, timeout: float = 5) -> dict:
    """Return the next presence frame, skipping anything else."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == "presence":
            return frame


def names(frame: dict) -> list[str]:
    return [user["username"] for user in frame["online"]]


async def test_presence_counts_a_user_once_and_tracks_leaving(connect_ws, public_room, alice, bob):
    a, hello = await open_room(connect_ws, public_room, alice)
    assert (names(hello), hello["online_count"]) == (["alice"], 1)
    b1, hello = await open_room(connect_ws, public_room, bob)
    assert (names(hello), hello["online_count"]) == (["alice", "bob"], 2)
    # Changes are announced once a second at most, to every socket in the room.
    frame = await next_presence(a)
    assert (names(frame), frame["online_count"]) == (["alice", "bob"], 2)
    b2, hello = await open_room(connect_ws, public_room, bob)
    assert (names(hello), hello["online_count"]) == (["alice", "bob"], 2)
    await b2.disconnect()  # bob keeps a tab open: still online, nothing announced
    await b1.disconnect()
    frame = await next_presence(a)
    assert frame == {
        "type": "presence",
        "online": [{"id": alice.pk, "username": "alice"}],
        "online_count": 1,
    }


async def test_presence_lists_at_most_100_users_with_the_full_count(
    connect_ws, public_room, make_user
):
    from realtime import presence

    users = [await db(make_user)(f"user{n:03}") for n in range(105)]
    store_joins = [presence.join(f"chat.room.{public_room.pk}", user, None) for user in users[1:]]
    for join in store_joins:
        await join
    _, hello = await open_room(connect_ws, public_room, users[0])
    assert hello["online_count"] == 105
    assert len(hello["online"]) == 100


# access changes while connected


async def test_removed_member_is_closed_with_4403(connect_ws, private_room, alice, bob):
    b, _ = await open_room(connect_ws, private_room, bob)
    await db(services.member_remove)(room=private_room, actor=alice, username="bob")
    await expect_close(b, 4403)


async def test_logout_closes_that_sessions_sockets_with_4401(connect_ws, public_room, alice):
    client, elsewhere = Client(), Client()
    sockets = []
    for login in (client, elsewhere):
        await db(login.force_login)(alice)
        cookie = login.cookies["sessionid"].value
        communicator, connected, _ = await connect_ws(
            f"/ws/chat/{public_room.slug}/", cookie=cookie
        )
        assert connected
        await receive(communicator, "hello")
        sockets.append(communicator)
    await db(client.post)("/accounts/logout/")
    await expect_close(sockets[0], 4401)
    # Alice's other login (another browser) keeps its socket.
    for _ in range(2):
        await sockets[1].send_json_to({"type": "ping"})
        await receive(sockets[1], "pong")


@override_settings(REALTIME_IDLE_TIMEOUT=1)
async def test_idle_socket_is_closed_with_4408(connect_ws, public_room, alice):
    a, _ = await open_room(connect_ws, public_room, alice)
    await asyncio.sleep(1.2)
    await expect_close(a, 4408)


@override_settings(REALTIME_IDLE_TIMEOUT=1)
async def test_a_talking_socket_stays_while_a_silent_one_goes(connect_ws, public_room, alice, bob):
    from realtime import transport

    talking, _ = await open_room(connect_ws, public_room, alice)
    silent, _ = await open_room(connect_ws, public_room, bob)
    # Both looked at by the worker's one round, no timer of their own.
    assert len(transport.idle_sockets.sockets) == 2
    for _ in range(8):  # 1.6 s, a frame every 0.2 s
        await talking.send_json_to({"type": "ping"})
        await receive(talking, "pong")
        await asyncio.sleep(0.2)
    await expect_close(silent, 4408)
    await talking.send_json_to({"type": "ping"})
    await receive(talking, "pong")


async def test_frames_of_long_messages_stay_under_the_budget(connect_ws, public_room, alice):
    from chat.frames import FRAME_MESSAGES_BUDGET

    # 4,000 control characters escape to 24 KB of JSON each: 50 would pass 1 MiB.
    body = "\x01" * 4000
    await db(Message.objects.bulk_create)(
        [
            Message(room=public_room, seq=n, author=alice, body=body, client_id=f"b{n}")
            for n in range(1, 61)
        ]
    )
    await db(type(public_room).objects.filter(pk=public_room.pk).update)(last_seq=60)
    for query in ("", "?after=0"):
        communicator, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/{query}", alice)
        assert connected
        output = await communicator.receive_output(timeout=5)
        assert len(output["text"].encode()) < FRAME_MESSAGES_BUDGET + 4096
        hello = json.loads(output["text"])
        seqs = [m["seq"] for m in hello["messages"]]
        assert hello["truncated"] is True and seqs[-1] == 60 and len(seqs) < 50
    await communicator.send_json_to({"type": "history", "before_seq": seqs[0], "limit": 100})
    page = await receive(communicator, "history")
    assert page["has_more"] is True and page["messages"][-1]["seq"] == seqs[0] - 1
