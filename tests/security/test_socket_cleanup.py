"""Bad input never closes a socket, and whatever ends a consumer (a close, a
crash, a cancellation) takes its registrations with it: the attacks that left
ghost sockets behind, performed again."""

import asyncio
import time

import pytest
import redis
from django.conf import settings

from chat.consumers import ChatConsumer
from chat.models import Message, Room
from harness.sockets import db, expect_close, open_room, receive
from realtime import presence, registry
from realtime.groups import user_group

pytestmark = pytest.mark.django_db(transaction=True)


def registered_sockets(user) -> int:
    """Live entries of `user` in the socket registry (what the 4429 cap counts)."""
    key = f"registry:sockets.{user_group(user.pk)}"
    return redis.Redis.from_url(settings.REDIS_URL).zcount(key, time.time(), "+inf")


async def wait_for(predicate, what: str, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def still_open(socket) -> None:
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket, "pong") == {"type": "pong"}


async def test_lone_surrogate_in_a_frame_is_invalid_and_the_socket_stays(
    connect_ws, public_room, alice
):
    socket, _ = await open_room(connect_ws, public_room, alice)
    for raw in (
        '{"type": "send", "body": "hi", "client_id": "\\ud800"}',
        '{"type": "send", "body": "\\udfff", "client_id": "c-1"}',
        '{"type": "history", "before_seq": 1, "x": ["\\ud83d"]}',
        # Not escaped: the character itself (a WebSocket carries UTF-8, which
        # cannot hold it; text handed over otherwise can).
        '{"type": "send", "body": "\ud800", "client_id": "c-1"}',
    ):
        await socket.send_to(text_data=raw)
        frame = await receive(socket, "error")
        assert frame["code"] == "invalid", raw
        assert "client_id" not in frame
    # A pair of surrogates is one character (an emoji), and fine.
    await socket.send_to(text_data='{"type": "send", "body": "\\ud83d\\ude00", "client_id": "c-2"}')
    assert (await receive(socket, "message"))["message"]["body"] == "\U0001f600"
    await still_open(socket)
    assert await db(Message.objects.count)() == 1


@pytest.mark.parametrize("path", ["/ws/chat/general/", "/ws/notifications/"])
async def test_after_with_thousands_of_digits_is_invalid_not_a_crash(
    connect_ws, public_room, alice, path
):
    socket, connected, _ = await connect_ws(f"{path}?after={'9' * 5000}", alice)
    assert connected
    error = await receive(socket, "error")
    assert error["code"] == "invalid"
    assert (await receive(socket, "hello"))["type"] == "hello"
    await still_open(socket)


async def test_a_failing_frame_handler_answers_server_error_and_keeps_the_socket(
    connect_ws, public_room, alice, monkeypatch
):
    socket, _ = await open_room(connect_ws, public_room, alice)

    async def broken(consumer, frame):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ChatConsumer, "on_history", broken)
    await socket.send_json_to({"type": "history", "before_seq": 5})
    frame = await receive(socket, "error")
    assert frame["code"] == "server_error"
    await still_open(socket)


async def test_a_crashed_consumer_leaves_no_socket_or_presence_behind(
    connect_ws, public_room, alice, monkeypatch
):
    socket, _ = await open_room(connect_ws, public_room, alice)
    assert registered_sockets(alice) == 1
    assert presence.local_sockets()

    async def crash(consumer, message):
        raise RuntimeError("an exception outside any handler")

    monkeypatch.setattr(ChatConsumer, "websocket_receive", crash)
    await socket.send_json_to({"type": "ping"})
    with pytest.raises(RuntimeError):
        await socket.wait(timeout=5)
    assert registered_sockets(alice) == 0
    assert not registry.local_sockets()
    assert not any(presence.local_sockets().values())
    channels = redis.Redis.from_url(settings.REDIS_URL).pubsub_channels
    await wait_for(lambda: channels() == [], "its subscriptions to go")


async def test_a_cancelled_consumer_leaves_no_socket_or_presence_behind(
    connect_ws, public_room, alice
):
    """What Daphne does to an application that outlives its connection (a
    history flood it was still answering): cancel it; no disconnect() runs."""
    socket, _ = await open_room(connect_ws, public_room, alice)
    assert registered_sockets(alice) == 1
    socket.future.cancel()
    await wait_for(lambda: registered_sockets(alice) == 0, "the registry entry to go")
    assert not registry.local_sockets()
    await wait_for(lambda: not any(presence.local_sockets().values()), "room presence to go")
    # Its groups and its own channel leave Redis too: no subscription is left.
    channels = redis.Redis.from_url(settings.REDIS_URL).pubsub_channels
    await wait_for(lambda: channels() == [], "its subscriptions to go")


async def test_repeated_crashes_do_not_lock_the_user_out(
    connect_ws, public_room, alice, monkeypatch, settings
):
    settings.REALTIME_MAX_SOCKETS_PER_USER = 3
    for _ in range(4):
        socket, _ = await open_room(connect_ws, public_room, alice)
        socket.future.cancel()
        await wait_for(lambda: registered_sockets(alice) == 0, "the registry entry to go")
    socket, _ = await open_room(connect_ws, public_room, alice)  # not refused with 4429
    await still_open(socket)


async def test_heartbeat_drops_a_consumer_that_ended_without_cleanup(alice):
    class Ended:
        released = True

    ended = Ended()
    await registry.track(f"sockets.{user_group(alice.pk)}", "ghost-channel", alice, ended)
    assert registered_sockets(alice) == 1
    await registry.refresh_once()
    assert not registry.local_sockets()  # no longer extended: it expires with PRESENCE_TTL


async def test_sending_in_a_room_deleted_meanwhile_closes_with_4404(connect_ws, public_room, alice):
    socket, _ = await open_room(connect_ws, public_room, alice)
    await db(Room.objects.filter(pk=public_room.pk).delete)()
    await socket.send_json_to({"type": "send", "body": "anyone?", "client_id": "c-9"})
    await expect_close(socket, 4404)
    assert await db(Message.objects.count)() == 0


async def test_session_deleted_on_the_server_closes_its_sockets(connect_ws, public_room, alice):
    from django.contrib.sessions.models import Session

    socket, _ = await open_room(connect_ws, public_room, alice)
    await db(Session.objects.all().delete)()
    await expect_close(socket, 4401)


async def test_expired_session_is_noticed_by_the_periodic_check(
    connect_ws, public_room, alice, settings
):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    settings.REALTIME_SESSION_RECHECK = 1
    socket, _ = await open_room(connect_ws, public_room, alice)
    await db(Session.objects.update)(expire_date=timezone.now())
    await expect_close(socket, 4401)


async def test_a_workers_logins_are_read_together_once_per_session(
    connect_ws, public_room, alice, bob, monkeypatch
):
    from django.contrib.sessions.models import Session
    from django.test import Client
    from django.utils import timezone

    from realtime import auth

    checks = auth.LoginChecks()
    monkeypatch.setattr(auth, "login_checks", checks)
    read = []
    login_user_ids = auth._login_user_ids

    async def counted(keys):
        read.append(sorted(keys))
        return await login_user_ids(keys)

    monkeypatch.setattr(auth, "_login_user_ids", counted)
    client = Client()
    await db(client.force_login)(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    alices = []
    for path in (f"/ws/chat/{public_room.slug}/", "/ws/notifications/"):
        socket, connected, _ = await connect_ws(path, cookie=cookie)
        assert connected
        alices.append(socket)
    await receive(alices[0], "hello")
    bobs, _ = await open_room(connect_ws, public_room, bob)
    assert len(checks.sockets) == 3 and not checks.heartbeat.task.done()
    await db(Session.objects.filter(session_key=cookie).update)(expire_date=timezone.now())
    await asyncio.wait_for(checks.check(), 5)
    assert len(read) == 1 and len(read[0]) == 2  # alice's session and bob's, read once each
    for socket in alices:
        await expect_close(socket, 4401)
        await socket.disconnect()  # the client's side of the close
    await still_open(bobs)
    assert len(checks.sockets) == 1 and not checks.heartbeat.task.done()  # bob's, again later


async def test_a_login_that_cannot_be_read_leaves_its_sockets_to_the_next_check(
    connect_ws, public_room, alice, monkeypatch
):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from realtime import auth

    checks = auth.LoginChecks()
    monkeypatch.setattr(auth, "login_checks", checks)
    login_user_ids = auth._login_user_ids

    async def unreadable(keys):
        raise OSError("database away")

    socket, _ = await open_room(connect_ws, public_room, alice)
    await db(Session.objects.update)(expire_date=timezone.now())
    monkeypatch.setattr(auth, "_login_user_ids", unreadable)
    await asyncio.wait_for(checks.check(), 5)
    await still_open(socket)  # not known to have ended: left open
    monkeypatch.setattr(auth, "_login_user_ids", login_user_ids)
    await asyncio.wait_for(checks.check(), 5)
    await expect_close(socket, 4401)
