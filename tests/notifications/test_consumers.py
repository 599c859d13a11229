"""Every rule of `/ws/notifications/` (docs/protocol.md), on the real Redis layer."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client, override_settings

from harness.sockets import assert_silent, db, receive
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


async def notify(user, n: int = 1, **content):
    rows = []
    for i in range(n):
        rows += await services.anotify(user, title=content.get("title", f"note {i}"))
    return rows


# Refusals


async def test_anonymous_is_refused_with_4401_and_no_frame(connect_ws):
    communicator, connected, _ = await connect_ws("/ws/notifications/")
    assert connected
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_foreign_origin_is_refused(connect_ws, alice):
    _, connected, _ = await connect_ws("/ws/notifications/", alice, origin="http://evil.example")
    assert not connected


# hello and resume


async def test_hello_has_unread_last_id_and_latest_20_oldest_first(open_stream, alice, bob):
    rows = await notify(alice, 25)
    await notify(bob, 2)
    await db(services.notification_mark_read)(user=alice, notification_id=rows[-1].pk)
    _, hello = await open_stream(alice)
    assert hello["unread"] == 24
    assert hello["last_id"] == rows[-1].pk
    assert [n["id"] for n in hello["notifications"]] == [r.pk for r in rows[5:]]
    latest = hello["notifications"][-1]
    assert set(latest) == {
        "id",
        "title",
        "body",
        "level",
        "url",
        "created_at",
        "read",
        "kind",
        "actor",
        "count",
    }
    assert latest["read"] is True and latest["created_at"].endswith("Z")
    assert hello["notifications"][0]["read"] is False


async def test_hello_of_a_new_user_is_empty(open_stream, alice):
    _, hello = await open_stream(alice)
    assert hello == {"type": "hello", "unread": 0, "last_id": 0, "notifications": []}


async def test_resume_after_returns_exactly_the_missed_ones(open_stream, alice):
    rows = await notify(alice, 5)
    _, hello = await open_stream(alice, f"?after={rows[1].pk}")
    assert [n["id"] for n in hello["notifications"]] == [r.pk for r in rows[2:]]
    assert hello["unread"] == 5 and hello["last_id"] == rows[-1].pk
    _, hello = await open_stream(alice, f"?after={rows[-1].pk}")
    assert hello["notifications"] == []


async def test_resume_over_100_missed_is_the_latest_100_and_truncated(open_stream, alice):
    await db(Notification.objects.bulk_create)(
        [Notification(recipient=alice, title=f"n{i}") for i in range(130)]
    )
    _, hello = await open_stream(alice, "?after=0")
    assert hello["truncated"] is True
    assert len(hello["notifications"]) == 100


async def test_bad_after_gets_an_error_then_latest(connect_ws, alice):
    await notify(alice, 2)
    communicator, connected, _ = await connect_ws("/ws/notifications/?after=-1", alice)
    assert connected
    assert (await receive(communicator, "error"))["code"] == "invalid"
    assert len((await receive(communicator, "hello"))["notifications"]) == 2


# Live


async def test_notify_reaches_every_socket_of_the_user_and_nobody_else(open_stream, alice, bob):
    a1, _ = await open_stream(alice)
    a2, _ = await open_stream(alice)
    b, _ = await open_stream(bob)
    [row] = await services.anotify(
        alice, title="Deploy done", body="v2", level="success", url="/chat/general/"
    )
    for communicator in (a1, a2):
        frame = await receive(communicator, "notification")
        assert frame["unread"] == 1
        assert frame["notification"] == {
            "id": row.pk,
            "title": "Deploy done",
            "body": "v2",
            "level": "success",
            "url": "/chat/general/",
            "created_at": frame["notification"]["created_at"],
            "read": False,
            "kind": "system",
            "actor": None,
            "count": 1,
        }
    await assert_silent(b)


async def test_live_unread_count_keeps_counting(open_stream, alice):
    await notify(alice, 2)
    a, hello = await open_stream(alice)
    assert hello["unread"] == 2
    await notify(alice, 2)
    assert [(await receive(a, "notification"))["unread"] for _ in range(2)] == [3, 4]


async def test_rolled_back_notify_reaches_no_socket(open_stream, alice):
    a, _ = await open_stream(alice)

    def notify_then_fail():
        from django.db import transaction

        with transaction.atomic():
            services.notify(alice, title="Never")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await db(notify_then_fail)()
    await notify(alice, title="After")
    frame = await receive(a, "notification")
    assert frame["notification"]["title"] == "After" and frame["unread"] == 1
    assert await db(Notification.objects.count)() == 1


# Reading


async def test_read_syncs_the_count_to_every_socket_of_the_user(open_stream, alice, bob):
    rows = await notify(alice, 3)
    a1, _ = await open_stream(alice)
    a2, _ = await open_stream(alice)
    b, _ = await open_stream(bob)
    await a1.send_json_to({"type": "read", "id": rows[0].pk})
    for communicator in (a1, a2):
        assert await receive(communicator, "unread") == {
            "type": "unread",
            "count": 2,
            "read": [rows[0].pk],
        }
    await assert_silent(b)


async def test_read_all_syncs_every_socket(open_stream, alice):
    await notify(alice, 3)
    a1, _ = await open_stream(alice)
    a2, _ = await open_stream(alice)
    await a2.send_json_to({"type": "read_all"})
    for communicator in (a1, a2):
        assert await receive(communicator, "unread") == {
            "type": "unread",
            "count": 0,
            "read_all": True,
        }
    _, hello = await open_stream(alice)
    assert hello["unread"] == 0


async def test_reading_over_http_syncs_the_sockets(open_stream, alice):
    rows = await notify(alice, 2)
    a, _ = await open_stream(alice)

    def post():
        client = Client()
        client.force_login(alice)
        return client.post(f"/notifications/{rows[1].pk}/read/")

    assert (await db(post)()).status_code == 302
    assert (await receive(a, "unread"))["count"] == 1


async def test_read_of_someone_elses_id_is_not_found(open_stream, alice, bob):
    [row] = await notify(bob)
    a, _ = await open_stream(alice)
    await a.send_json_to({"type": "read", "id": row.pk})
    error = await receive(a, "error")
    assert error["code"] == "not_found" and error["detail"]
    assert (await db(Notification.objects.get)(pk=row.pk)).read_at is None


async def test_reading_again_answers_this_socket_only(open_stream, alice):
    [row] = await notify(alice)
    a1, _ = await open_stream(alice)
    a2, _ = await open_stream(alice)
    await a1.send_json_to({"type": "read", "id": row.pk})
    await receive(a1, "unread")
    await receive(a2, "unread")
    await a1.send_json_to({"type": "read", "id": row.pk})
    assert await receive(a1, "unread") == {"type": "unread", "count": 0}
    await assert_silent(a2)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "read"},
        {"type": "read", "id": "7"},
        {"type": "read", "id": 0},
        {"type": "read", "id": True},
        {"type": "read", "id": 2**70},
        {"type": "send", "body": "x"},
        {"type": "notifications.batch", "users": [], "ids": []},
    ],
)
async def test_bad_frames_get_invalid_and_the_socket_stays_open(open_stream, alice, frame):
    a, _ = await open_stream(alice)
    await a.send_json_to(frame)
    assert (await receive(a, "error"))["code"] == "invalid"
    await a.send_json_to({"type": "ping"})
    assert (await receive(a, "pong"))["type"] == "pong"


async def test_count_stays_right_when_reading_races_new_ones(open_stream, alice):
    rows = await notify(alice, 2)
    a1, _ = await open_stream(alice)
    a2, _ = await open_stream(alice)
    [new] = await notify(alice, title="new")
    assert (await receive(a1, "notification"))["unread"] == 3
    await a1.send_json_to({"type": "read", "id": rows[0].pk})
    assert (await receive(a1, "unread"))["count"] == 2
    assert (await receive(a2, "notification"))["notification"]["id"] == new.pk
    assert (await receive(a2, "unread"))["count"] == 2


# Broadcasts


async def test_broadcast_to_everyone_gives_each_socket_its_own_id(open_stream, alice, bob, carol):
    sockets = {user.pk: (await open_stream(user))[0] for user in (alice, bob, carol)}
    record = await services.abroadcast(title="Maintenance", level="warning")
    rows = dict(await db(lambda: list(Notification.objects.values_list("recipient_id", "id")))())
    assert len(rows) == 3 and record.recipient_count == 3
    for user_id, communicator in sockets.items():
        frame = await receive(communicator, "notification")
        assert frame["notification"]["id"] == rows[user_id]
        assert frame["notification"]["title"] == "Maintenance" and frame["unread"] == 1


async def test_group_broadcast_reaches_members_once_and_nobody_else(open_stream, make_user):
    red = await db(Group.objects.create)(name="red")
    blue = await db(Group.objects.create)(name="blue")
    member, both, outsider = [await db(make_user)(n) for n in ("member", "both", "outsider")]
    await db(member.groups.add)(red)
    await db(both.groups.add)(red, blue)
    m, _ = await open_stream(member)
    b, _ = await open_stream(both)
    o, _ = await open_stream(outsider)
    await services.abroadcast(title="Reds and blues", audience=[red, blue])
    assert (await receive(m, "notification"))["unread"] == 1
    assert (await receive(b, "notification"))["unread"] == 1
    await assert_silent(b)
    await assert_silent(o)


async def test_joining_a_group_while_connected_brings_its_broadcasts(open_stream, alice):
    team = await db(Group.objects.create)(name="team")
    [row] = await notify(alice)
    a, _ = await open_stream(alice)
    await db(team.user_set.add)(alice)
    # Events to one user arrive in order: once this `unread` is here, the socket
    # has handled the groups_changed event sent before it.
    await db(services.notification_mark_read)(user=alice, notification_id=row.pk)
    await receive(a, "unread")
    await services.abroadcast(title="Team only", audience=[team])
    assert (await receive(a, "notification"))["notification"]["title"] == "Team only"


async def test_leaving_a_group_while_connected_stops_its_broadcasts(open_stream, alice, bob):
    team = await db(Group.objects.create)(name="team")
    await db(team.user_set.add)(alice, bob)
    a, _ = await open_stream(alice)
    b, _ = await open_stream(bob)
    await db(alice.groups.remove)(team)
    await services.abroadcast(title="Team only", audience=[team])
    await receive(b, "notification")
    await assert_silent(a)
    assert await db(alice.notifications.count)() == 0


# Redis outage


async def test_resync_after_an_outage_forwards_what_the_layer_lost(open_stream, alice):
    from realtime import recovery

    [delivered] = await notify(alice, title="delivered")
    a, _ = await open_stream(alice)
    # Stored while the layer was away: no push reached the socket.
    lost = await db(Notification.objects.bulk_create)(
        [Notification(recipient=alice, title=f"lost {i}") for i in range(2)]
    )
    await db(services.notification_mark_read)(user=alice, notification_id=delivered.pk)
    assert (await receive(a, "unread"))["count"] == 2
    await recovery.on_recovered()
    frames = [await receive(a, "notification") for _ in lost]
    assert [f["notification"]["id"] for f in frames] == [row.pk for row in lost]
    assert all(f["unread"] == 2 for f in frames)
    assert await receive(a, "unread") == {"type": "unread", "count": 2}
    await recovery.on_recovered()  # again: nothing is forwarded twice
    assert await receive(a, "unread") == {"type": "unread", "count": 2}


@override_settings(REALTIME_READ_RATE_LIMIT="2/60")
async def test_read_marks_are_limited_per_user_and_a_refused_one_stores_nothing(open_stream, alice):
    rows = await notify(alice, 3)
    a1, _ = await open_stream(alice)
    a2, _ = await open_stream(alice)
    for reader, row in ((a1, rows[0]), (a2, rows[1])):
        await reader.send_json_to({"type": "read", "id": row.pk})
        for communicator in (a1, a2):
            assert (await receive(communicator, "unread"))["read"] == [row.pk]
    await a2.send_json_to({"type": "read_all"})
    error = await receive(a2, "error")
    assert error["code"] == "rate_limited" and 0 < error["retry_after"] <= 60
    await a1.send_json_to({"type": "read", "id": rows[2].pk})
    assert (await receive(a1, "error"))["code"] == "rate_limited"
    unread = await db(Notification.objects.filter(recipient=alice, read_at=None).count)()
    assert unread == 1
