"""Broadcasts in the Django admin: who may send, who receives, once, and fast."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from harness.permissions import broadcast_permissions
from harness.sockets import assert_silent, db, receive
from notifications import deliveries, events, services
from notifications.models import Broadcast, Delivery, Notification

ADD_URL = "/admin/notifications/broadcast/add/"
INSERT_ROWS = 'INSERT INTO "notifications_notification"'
INSERT_DELIVERIES = 'INSERT INTO "notifications_delivery"'


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(**fields) -> dict:
    data = {
        "title": "Maintenance at 22:00",
        "body": "",
        "level": "info",
        "url": "",
        "audience": "all",
        "_save": "Save",
    }
    data.update(fields)
    return data


@pytest.mark.django_db
def test_non_staff_cannot_open_or_post_the_broadcast_form(alice):
    client = logged_in(alice)
    assert client.get(ADD_URL).status_code == 302
    response = client.post(ADD_URL, form())
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Broadcast.objects.count() == 0 and Notification.objects.count() == 0


@pytest.mark.django_db
def test_staff_without_the_add_permission_cannot_broadcast(make_user):
    staff = make_user("staffer", is_staff=True)
    staff.user_permissions.add(*broadcast_permissions("view", "change"))
    client = logged_in(staff)
    assert client.get("/admin/notifications/broadcast/").status_code == 200
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, form()).status_code == 403
    assert Broadcast.objects.count() == 0 and Notification.objects.count() == 0


@pytest.mark.django_db
def test_the_form_refuses_bad_content_and_empty_audiences(broadcaster):
    client = logged_in(broadcaster)
    for data in (
        form(url="//evil.example/"),
        form(url="https://evil.example/"),
        form(title=""),
        form(level="critical"),
        form(audience="groups"),
        form(audience="users"),
    ):
        response = client.post(ADD_URL, data)
        assert response.status_code == 200, data
        assert response.context["adminform"].form.errors, data
    assert Broadcast.objects.count() == 0 and Notification.objects.count() == 0


@pytest.mark.django_db(transaction=True)
async def test_saved_broadcast_reaches_each_audience_member_and_nobody_else(
    open_stream, broadcaster, make_user
):
    team = await db(Group.objects.create)(name="team")
    members = [await db(make_user)(f"member{i}") for i in range(3)]
    outsider = await db(make_user)("outsider")
    for member in members:
        await db(member.groups.add)(team)
    member_sockets = [(await open_stream(member))[0] for member in members]
    outsider_socket, _ = await open_stream(outsider)

    data = form(title="Team meeting", url="/chat/team/", audience="groups", groups=[team.pk])
    response = await db(lambda: logged_in(broadcaster).post(ADD_URL, data))()
    assert response.status_code == 302
    record = await db(Broadcast.objects.get)()
    assert record.recipient_count == 3 and record.created_by_id == broadcaster.pk
    for socket in member_sockets:
        frame = await receive(socket, "notification")
        assert frame["notification"]["title"] == "Team meeting"
        assert frame["notification"]["url"] == "/chat/team/"
    await assert_silent(outsider_socket)


@pytest.mark.django_db(transaction=True)
async def test_saved_broadcast_to_users_reaches_only_them(open_stream, broadcaster, alice, bob):
    a, _ = await open_stream(alice)
    b, _ = await open_stream(bob)
    data = form(audience="users", users=[alice.pk])
    response = await db(lambda: logged_in(broadcaster).post(ADD_URL, data))()
    assert response.status_code == 302
    assert (await receive(a, "notification"))["unread"] == 1
    await assert_silent(b)


@pytest.mark.django_db
def test_editing_a_sent_broadcast_never_resends(
    broadcaster, alice, django_capture_on_commit_callbacks
):
    client = logged_in(broadcaster)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ADD_URL, form())
    record = Broadcast.objects.get()
    sent_at = record.sent_at
    change_url = f"/admin/notifications/broadcast/{record.pk}/change/"
    assert client.get(change_url).status_code == 200
    response = client.post(change_url, form(title="Changed"))
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.title == "Maintenance at 22:00" and record.sent_at == sent_at
    assert Notification.objects.count() == 2  # the broadcaster and alice, once each


@pytest.mark.django_db
def test_change_list_shows_recipients_and_reads(broadcaster, alice, bob):
    record = services.broadcast(title="Counted")
    for user in (alice, bob):
        row = Notification.objects.get(broadcast=record, recipient=user)
        services.notification_mark_read(user=user, notification_id=row.pk)
    html = logged_in(broadcaster).get("/admin/notifications/broadcast/").content.decode()
    assert '<td class="field-recipient_count">3</td>' in html
    assert '<td class="field-read_count">2</td>' in html


@pytest.mark.django_db
def test_broadcast_to_10000_users_is_stored_in_bulk_and_pushed_once(
    broadcaster, make_users, django_capture_on_commit_callbacks, sent_events, run_tasks
):
    make_users(10_000)
    client = logged_in(broadcaster)
    with (
        CaptureQueriesContext(connection) as context,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(ADD_URL, form(title="Everyone"))
    assert response.status_code == 302
    record = Broadcast.objects.get()
    assert record.recipient_count == 10_001
    assert Notification.objects.filter(broadcast=record).count() == 10_001

    # The rows are written by the database itself: one INSERT … SELECT.
    inserts = [q for q in context.captured_queries if q["sql"].startswith(INSERT_ROWS)]
    assert len(inserts) == 1 and " SELECT " in inserts[0]["sql"]
    # Apart from the row inserts, the save is a handful of queries, not one per user.
    assert len(context.captured_queries) < 30
    # One socket delivery per notification is recorded after the push, in the
    # background (the save does not wait for it), in one statement too.
    assert not Delivery.objects.exists()
    assert not [q for q in context.captured_queries if q["sql"].startswith(INSERT_DELIVERIES)]
    with CaptureQueriesContext(connection) as context:
        assert run_tasks() >= 1
    assert Delivery.objects.filter(channel="socket", status="sent").count() == 10_001
    recorded = [q for q in context.captured_queries if q["sql"].startswith(INSERT_DELIVERIES)]
    assert len(recorded) == 1 and " SELECT " in recorded[0]["sql"]
    # A retried task records nothing twice.
    assert deliveries.record_broadcast(record.pk, channel="socket", status="sent") == 0
    assert Delivery.objects.count() == 10_001

    # One channel-layer message for every socket, small enough to copy per worker.
    [(group, event)] = sent_events
    assert group == events.ALL_USERS_GROUP
    assert len(event["users"]) == 10_001 and len(event["ids"]) <= 10


@pytest.mark.django_db
def test_staff_marks_a_broadcast_critical_in_the_admin_form(broadcaster, alice):
    client = logged_in(broadcaster)
    assert 'name="critical"' in client.get(ADD_URL).content.decode()
    response = client.post(ADD_URL, form(title="Outage", critical="on"))
    assert response.status_code == 302
    record = Broadcast.objects.get()
    assert record.critical
    assert Notification.objects.filter(broadcast=record, kind="broadcast").count() == 2


@pytest.mark.django_db
def test_a_notification_shows_where_it_went_read_only(
    admin_user, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [row] = services.notify(alice, title="Deploy done")
    deliveries.record([row], channel="email", status="failed", detail="550 <no such user>")
    client = logged_in(admin_user)
    html = client.get(f"/admin/notifications/notification/{row.pk}/change/").content.decode()
    # The push to the layer, once per notification, and what email did.
    assert "Open tabs" in html and "Email" in html and "Failed" in html
    assert "550 &lt;no such user&gt;" in html
    assert 'name="deliveries-0-status"' not in html  # nothing to edit
    assert list(Delivery.objects.filter(notification=row).values_list("channel", "status")) == [
        ("socket", "sent"),
        ("email", "failed"),
    ]


@pytest.mark.django_db
def test_record_refuses_an_unknown_channel(alice):
    [row] = services.notify(alice, title="x")
    with pytest.raises(ValueError):
        deliveries.record([row], channel="pigeon", status="sent")
