"""Web Push end to end against a stand-in push service on a loopback port: a
stored notification becomes a task after commit, the task posts to the user's
browsers when they have no socket open, the push is signed (VAPID) and
encrypted (aes128gcm) as a browser needs it, and the push service's answers
are obeyed (404/410 drop a subscription, one dead browser stops no other)."""

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django_tasks import default_task_backend

from harness.push_service import BrowserKeys, verify_vapid
from harness.sockets import receive
from notifications import services, webpush
from notifications.models import (
    Broadcast,
    Delivery,
    Kind,
    Notification,
    NotificationSettings,
    PushSubscription,
)

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/notifications/push/subscribe/"


def subscribe(user, service, name: str) -> BrowserKeys:
    """Subscribe one browser of `user` through the real endpoint; return its keys."""
    keys = BrowserKeys()
    client = Client()
    client.force_login(user)
    response = client.post(
        SUBSCRIBE, json.dumps(keys.subscription(service.endpoint(name))), "application/json"
    )
    assert response.status_code == 201, response.content
    return keys


@pytest.fixture
def notify(django_capture_on_commit_callbacks, run_tasks):
    """Store a notification and run what its commit sets off: the push task, with
    the database backend's own worker loop."""

    def notify_(user, **fields) -> Notification:
        fields = {"title": "bob mentioned you in General", "kind": Kind.MENTION, **fields}
        with django_capture_on_commit_callbacks(execute=True):
            [row] = services.notify(user, **fields)
        run_tasks()
        return row

    return notify_


def push_deliveries(notification) -> list[tuple[str, str]]:
    return list(
        Delivery.objects.filter(notification=notification, channel="push").values_list(
            "status", "detail"
        )
    )


def test_a_mention_reaches_the_browser_signed_and_encrypted(
    webpush_on, push_service, alice, bob, notify
):
    keys = subscribe(alice, push_service, "alice-laptop")
    row = notify(
        alice,
        body="can you look at the <b>deploy</b>?",
        url="/chat/general/?at=1042",
        actor=bob,
        target="chat.message:1042",
    )
    [push] = push_service.to("alice-laptop")
    claims = verify_vapid(push, public_key=webpush_on, audience=push_service.origin)
    assert claims["sub"] == "mailto:ops@example.com"
    assert push.headers["ttl"] == str(webpush.PUSH_TTL)
    assert push.headers["urgency"] == "high"
    assert len(push.headers["topic"]) == 32
    assert keys.decrypt(push) == {
        "title": "bob mentioned you in General",
        "body": "can you look at the <b>deploy</b>?",
        "url": "/chat/general/?at=1042",
        "kind": "mention",
        "id": row.pk,
        "tag": "mention:chat.message:1042",
    }
    assert push_deliveries(row) == [("sent", f"{PushSubscription.objects.get().pk}: 201")]
    assert PushSubscription.objects.get().last_success_at is not None


def test_a_410_removes_the_subscription(webpush_on, push_service, alice, notify):
    subscribe(alice, push_service, "gone")
    push_service.statuses["/push/gone"] = 410
    row = notify(alice)
    assert len(push_service.to("gone")) == 1
    assert not PushSubscription.objects.exists()
    [(status, _)] = push_deliveries(row)
    assert status == "failed"
    # The next one finds no browser and says so.
    assert push_deliveries(notify(alice)) == [("skipped", "no browser subscribed")]


def test_a_dead_subscription_never_stops_the_live_ones(webpush_on, push_service, alice, notify):
    subscribe(alice, push_service, "dead")
    broken = subscribe(alice, push_service, "broken")
    live = subscribe(alice, push_service, "live")
    push_service.statuses["/push/dead"] = 404
    # A row whose key was damaged after it was stored: encrypting for it fails.
    PushSubscription.objects.filter(endpoint__endswith="/broken").update(p256dh="AAAA")
    row = notify(alice, kind=Kind.DIRECT, title="bob: lunch?")
    assert live.decrypt(push_service.to("live")[0])["title"] == "bob: lunch?"
    assert not push_service.to("broken")
    assert broken  # its row stays: one failure is no proof it is dead
    remaining = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert remaining == {push_service.endpoint("broken"), push_service.endpoint("live")}
    assert PushSubscription.objects.get(endpoint__endswith="/broken").failures == 1
    [(status, detail)] = push_deliveries(row)
    assert status == "sent" and "404" in detail and "error" in detail and "201" in detail


@pytest.mark.django_db(transaction=True)
async def test_no_push_while_the_user_has_a_socket_open(
    webpush_on, push_service, alice, connect_ws, run_tasks
):
    await database_sync_to_async(subscribe)(alice, push_service, "phone")
    communicator, connected, _ = await connect_ws("/ws/notifications/", alice)
    assert connected
    await receive(communicator, "hello")
    notify = database_sync_to_async(services.notify)
    [seen] = await notify(alice, title="while looking", kind=Kind.MENTION)
    await receive(communicator, "notification")
    await database_sync_to_async(run_tasks)()
    assert push_service.received == []
    skipped = await database_sync_to_async(push_deliveries)(seen)
    assert skipped == [("skipped", "a socket is open")]
    await communicator.disconnect()
    [missed] = await notify(alice, title="after leaving", kind=Kind.MENTION)
    await database_sync_to_async(run_tasks)()
    assert len(push_service.to("phone")) == 1
    assert (await database_sync_to_async(push_deliveries)(missed))[0][0] == "sent"


@pytest.mark.parametrize("kind", [Kind.REACTION, Kind.SYSTEM])
def test_reactions_and_system_notifications_are_never_pushed(
    webpush_on, push_service, alice, notify, kind
):
    subscribe(alice, push_service, "x")
    row = notify(alice, kind=kind)
    assert push_service.received == [] and push_deliveries(row) == []


def test_a_kind_switched_off_for_push_is_not_pushed(webpush_on, push_service, alice, notify):
    subscribe(alice, push_service, "x")
    NotificationSettings.objects.create(user=alice, push_kinds=[Kind.DIRECT])
    notify(alice, kind=Kind.MENTION)
    assert push_service.received == []
    notify(alice, kind=Kind.DIRECT)
    assert len(push_service.received) == 1


def test_a_broadcast_is_pushed_as_the_users_preferences_say(
    webpush_on, push_service, alice, bob, django_capture_on_commit_callbacks, run_tasks
):
    subscribe(alice, push_service, "alice")
    subscribe(bob, push_service, "bob")
    NotificationSettings.objects.create(user=bob, push_kinds=[Kind.MENTION])
    with django_capture_on_commit_callbacks(execute=True):
        services.broadcast(title="Maintenance at 22:00", url="/chat/")
    run_tasks()
    assert len(push_service.to("alice")) == 1 and push_service.to("bob") == []
    assert Broadcast.objects.get().recipient_count == 2


def test_read_before_the_task_runs_is_not_pushed(webpush_on, push_service, alice, notify, settings):
    subscribe(alice, push_service, "x")
    # A backend that only keeps the task: it runs late, after the user read it.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    row = notify(alice)
    [queued] = default_task_backend.results
    services.notification_mark_read(user=alice, notification_id=row.pk)
    queued.task.call(*queued.args)
    assert push_service.received == [] and push_deliveries(row) == []


def test_nothing_is_queued_while_push_is_off(push_service, alice, notify):
    PushSubscription.objects.create(
        user=alice, endpoint=push_service.endpoint("x"), p256dh="x", auth="y"
    )
    row = notify(alice)
    assert push_service.received == [] and push_deliveries(row) == []


def test_a_redirect_is_not_followed(webpush_on, push_service, alice, notify):
    subscribe(alice, push_service, "moved")
    push_service.statuses["/push/moved"] = 307
    push_service.redirects["/push/moved"] = push_service.endpoint("elsewhere")
    row = notify(alice)
    assert [item.path for item in push_service.received] == ["/push/moved"]
    assert push_deliveries(row)[0][0] == "failed"
    assert PushSubscription.objects.get().failures == 1


def test_an_endpoint_no_longer_allowed_is_never_posted_to(
    webpush_on, push_service, alice, notify, settings
):
    subscribe(alice, push_service, "x")
    settings.WEBPUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com"]
    row = notify(alice)
    assert push_service.received == []
    [(status, detail)] = push_deliveries(row)
    assert status == "failed" and "not a known push service" in detail


def test_a_subscription_failing_again_and_again_is_dropped(webpush_on, push_service, alice, notify):
    subscribe(alice, push_service, "flaky")
    push_service.statuses["/push/flaky"] = 503
    for _ in range(webpush.FAILURES_MAX - 1):
        notify(alice, collapse_key="")
    assert PushSubscription.objects.get().failures == webpush.FAILURES_MAX - 1
    notify(alice, collapse_key="")
    assert not PushSubscription.objects.exists()


def test_the_payload_stays_within_3_kb(alice):
    [row] = services.notify(
        alice, title="t" * 200, body="ü🙂" * 1900, url="/chat/general/", kind=Kind.DIRECT
    )
    payload = webpush.payload_for(row)
    assert len(payload) <= webpush.PAYLOAD_MAX_BYTES
    data = json.loads(payload)
    assert data["body"].endswith("…") and data["title"] == "t" * 200
    assert data["url"] == "/chat/general/" and data["tag"] == f"notification-{row.pk}"


def test_a_notification_without_a_link_opens_the_list(alice):
    [row] = services.notify(alice, title="hello", kind=Kind.MENTION)
    assert json.loads(webpush.payload_for(row))["url"] == "/notifications/"


def test_a_body_of_quotes_and_newlines_is_cut_to_fit_too(alice):
    # Each of these takes more room in JSON than in the text.
    [row] = services.notify(alice, title="t", body='"\n\\' * 1300, kind=Kind.DIRECT)
    payload = webpush.payload_for(row)
    assert len(payload) <= webpush.PAYLOAD_MAX_BYTES
    assert json.loads(payload)["body"].endswith("…")
