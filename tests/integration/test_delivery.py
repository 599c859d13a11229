"""Live delivery across two `manage.py serve` workers: chat messages, a notify()
from a separate Django shell process and an admin broadcast reach sockets on both."""

import asyncio

import pytest

from harness.checks import assert_every_message_once, send_steadily

pytestmark = pytest.mark.integration

NOTIFY_FROM_SHELL = """
from django.contrib.auth import get_user_model
from notifications.services import notify
users = get_user_model().objects.filter(username__in=args['names'])
rows = notify(users, title=args['title'], body='from a shell process', level='success')
print(json.dumps({row.recipient.username: row.pk for row in rows}))
"""


async def test_message_sent_on_one_worker_reaches_members_on_both(workers, room, clients):
    a, b = workers
    alice = await clients.room("alice", room, a)
    bob = await clients.room("bob", room, b)
    carol_a = await clients.room("carol", room, a)
    carol_b = await clients.room("carol", room, b)
    everyone = [alice, bob, carol_a, carol_b]

    await send_steadily(alice, 5, 20, "from A")
    await send_steadily(bob, 5, 20, "from B")
    for sender in (alice, bob):
        await sender.wait_acked(10)
    for client in everyone:
        await client.wait_for_seq(10, 10)

    assert_every_message_once(everyone, [alice, bob])
    for client in everyone:
        # Live, not filled in later from history.
        assert client.history_requests == 0, client.name
        assert {how for _, how in client.arrived.values()} == {"live"}
        assert client.connections == 1


async def test_notify_from_a_shell_process_reaches_sockets_on_both_workers(stack, workers, clients):
    a, b = workers
    alice = await clients.notifications("alice", a)
    bob_a = await clients.notifications("bob", a)
    bob_b = await clients.notifications("bob", b)

    title = "Deploy at noon (shell)"
    ids = await asyncio.to_thread(
        stack.shell, NOTIFY_FROM_SHELL, names=["alice", "bob"], title=title
    )

    for client, user in ((alice, "alice"), (bob_a, "bob"), (bob_b, "bob")):
        notification = await client.wait_for_title(title, 10)
        assert notification["id"] == ids[user]
        assert notification["level"] == "success"
        assert notification["read"] is False
        assert client.duplicates == 0
    # Both of bob's sockets count the same unread notification.
    assert bob_a.unread == bob_b.unread >= 1


async def test_admin_broadcast_reaches_sockets_on_both_workers(workers, sessions, clients):
    a, b = workers
    listeners = [
        await clients.notifications("alice", a),
        await clients.notifications("bob", b),
        await clients.notifications("carol", b),
        await clients.notifications("admin", a),
    ]
    admin = sessions["admin"]
    form = await asyncio.to_thread(admin.get, "/admin/notifications/broadcast/add/")
    assert form.status == 200, form.body[:500]

    title = "Maintenance tonight (admin)"
    response = await asyncio.to_thread(
        admin.post_form,
        "/admin/notifications/broadcast/add/",
        {
            "title": title,
            "body": "The site restarts at 22:00.",
            "level": "warning",
            "url": "/notifications/",
            "audience": "all",
            "_save": "Save",
        },
    )
    assert response.status == 302, response.body[:2000]
    assert response.location.endswith("/admin/notifications/broadcast/")

    seen = [await listener.wait_for_title(title, 10) for listener in listeners]
    assert {n["level"] for n in seen} == {"warning"}
    assert {n["url"] for n in seen} == {"/notifications/"}
    # One row per recipient: four different ids.
    assert len({n["id"] for n in seen}) == 4
    assert all(listener.duplicates == 0 for listener in listeners)
