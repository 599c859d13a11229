"""The admin's Live page: online users and sockets per worker from presence,
and each broadcast's reach."""

import pytest
from django.test import Client

from harness.sockets import db, open_room, receive
from notifications import services as notification_services
from notifications.models import Broadcast
from realtime import metrics, tally


@pytest.mark.django_db
def test_live_page_is_for_staff_only(client, make_user):
    assert client.get("/admin/live/").status_code == 302
    client.force_login(make_user("plain"))
    assert client.get("/admin/live/").status_code == 302  # to the admin login


@pytest.mark.django_db
def test_live_page_needs_the_view_live_permission(make_user):
    from django.contrib.auth.models import Permission

    staff, granted, superuser = Client(), Client(), Client()
    staff.force_login(make_user("staff", is_staff=True))
    holder = make_user("holder", is_staff=True)
    holder.user_permissions.add(Permission.objects.get(codename="view_live"))
    granted.force_login(holder)
    superuser.force_login(make_user("root", is_staff=True, is_superuser=True))

    response = staff.get("/admin/live/")
    assert response.status_code == 403
    assert "Online now" not in response.content.decode()
    assert 'href="/admin/live/"' not in staff.get("/admin/").content.decode()
    for client in (granted, superuser):
        response = client.get("/admin/live/")
        assert response.status_code == 200 and "Online now" in response.content.decode()
        assert 'href="/admin/live/"' in client.get("/admin/").content.decode()


@pytest.mark.django_db(transaction=True)
async def test_live_page_shows_who_is_online_and_how_far_a_broadcast_went(
    connect_ws, public_room, alice, bob, make_user
):
    staff_user = await db(make_user)("ops", is_staff=True, is_superuser=True)
    await open_room(connect_ws, public_room, alice)
    notes, _, _ = await connect_ws("/ws/notifications/", bob)
    await receive(notes, "hello")
    broadcast = await db(Broadcast.objects.create)(title="Deploy at 5", created_by=staff_user)
    await db(notification_services.broadcast_send)(broadcast=broadcast)
    await receive(notes, "notification")
    await tally.flush()

    staff = Client()
    await db(staff.force_login)(staff_user)
    response = await db(staff.get)("/admin/live/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Online now: 2 users, 2 sockets" in html
    assert "alice, bob" in html
    assert f"<td>{metrics.WORKER}</td><td>2</td>" in html
    row = html.split("Deploy at 5")[1].split("</tr>")[0]
    # recipients (3 active users), sockets pushed to (bob's one), read (none)
    assert [cell.split("<")[0] for cell in row.split("<td>")[2:]] == ["3", "1", "0"]
