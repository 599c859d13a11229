"""The email pipeline, with `now` forced instead of waiting: the delay, read
meanwhile, several notifications batched into one email, the daily digest hour
in a time zone, email off, a kind switched off, quiet hours moving the send time,
the unsubscribe token and page, and the task's retry."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chat import services as chat_services
from notifications import email_receivers, emails, services, tasks
from notifications.models import Delivery, Kind, Notification, NotificationSettings
from realtime import tasks as task_helpers

pytestmark = pytest.mark.django_db

DELAY = 300


@pytest.fixture(autouse=True)
def _email_settings(settings):
    settings.NOTIFY_EMAIL_DELAY = DELAY
    settings.SITE_URL = "https://chat.example.com"
    settings.DEFAULT_FROM_EMAIL = "Relay <relay@chat.example.com>"


@pytest.fixture
def bob_mail(bob):
    bob.email = "bob@example.com"
    bob.save()
    return bob


def prefs(user, **fields) -> NotificationSettings:
    row, _ = NotificationSettings.objects.update_or_create(user=user, defaults=fields)
    user.refresh_from_db()
    return row


def mention(user, message, *, at: datetime, kind=Kind.MENTION, title="alice mentioned you") -> int:
    """Store a notification about `message` for `user`, as if made at `at`."""
    [row] = services.notify(
        user,
        title=title,
        body=message.body,
        kind=kind,
        target=f"chat.message:{message.pk}",
        collapse_key="",
    )
    Notification.objects.filter(pk=row.pk).update(created_at=at)
    return row.pk


def post(room, author, body: str, n: int):
    """Post a message (bodies here mention no one: the tests store their own)."""
    return chat_services.message_create(
        room=room, author=author, body=body, client_id=f"c{n}"
    ).message


@pytest.fixture
def room(public_room, bob):
    chat_services.room_join(room=public_room, user=bob)
    return public_room


def email_deliveries(status=None) -> list[int]:
    rows = Delivery.objects.filter(channel=Delivery.Channel.EMAIL)
    if status:
        rows = rows.filter(status=status)
    return sorted(rows.values_list("notification_id", flat=True))


T0 = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_nothing_goes_before_the_delay_and_it_goes_once_due(room, alice, bob_mail):
    nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=T0)
    early = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[nid], now=T0 + timedelta(seconds=DELAY - 1)
    )
    assert mail.outbox == [] and early.later == T0 + timedelta(seconds=DELAY)
    done = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[nid], now=T0 + timedelta(seconds=DELAY)
    )
    assert done.sent == [nid]
    (email,) = mail.outbox
    assert email.to == ["bob@example.com"] and email.subject == "alice mentioned you"
    assert email_deliveries(Delivery.Status.SENT) == [nid]
    # Once emailed, never again.
    again = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[nid], now=T0 + timedelta(hours=1)
    )
    assert again.sent == [] and len(mail.outbox) == 1


def test_read_meanwhile_is_never_sent_and_recorded_skipped(room, alice, bob_mail):
    nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=T0)
    services.notification_mark_read(user=bob_mail, notification_id=nid)
    outcome = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[nid], now=T0 + timedelta(seconds=DELAY)
    )
    assert outcome.sent == [] and outcome.skipped == [nid]
    assert mail.outbox == []
    assert email_deliveries(Delivery.Status.SKIPPED) == [nid]


def test_several_notifications_go_as_one_email_grouped_by_room_newest_first(
    room, alice, bob_mail, carol
):
    other = chat_services.room_create(name="Design <team>", created_by=alice)
    chat_services.room_join(room=other, user=bob_mail)
    first = post(room, alice, "first bob", 1)
    second = post(other, alice, "second bob <b>bold</b>", 2)
    third = post(room, carol, "third bob", 3)
    ids = [
        mention(bob_mail, first, at=T0),
        mention(bob_mail, second, at=T0 + timedelta(seconds=60), title="alice replied to you"),
        mention(
            bob_mail, third, at=T0 + timedelta(seconds=120), kind=Kind.REPLY, title="carol replied"
        ),
    ]
    # The first one's run sends all three: the later ones join it.
    outcome = emails.send_due(
        user_id=bob_mail.pk, notification_ids=ids[:1], now=T0 + timedelta(seconds=DELAY)
    )
    assert sorted(outcome.sent) == sorted(ids)
    (email,) = mail.outbox
    assert email.subject == "3 unread notifications"
    text = email.body
    # Rooms in the order of their newest notification, entries newest first.
    assert text.index("== General ==") < text.index("== Design <team> ==")
    assert text.index("third bob") < text.index("first bob")
    assert f"https://chat.example.com{room.get_absolute_url()}?at={third.seq}" in text
    html = email.alternatives[0][0]
    assert "Design &lt;team&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>bold" not in html
    assert f'href="https://chat.example.com{other.get_absolute_url()}?at={second.seq}"' in html
    # The later runs find nothing left.
    later = emails.send_due(
        user_id=bob_mail.pk, notification_ids=ids[1:], now=T0 + timedelta(seconds=DELAY + 120)
    )
    assert later.sent == [] and len(mail.outbox) == 1


def test_the_daily_digest_goes_at_the_chosen_hour_in_the_users_time_zone(room, alice, bob_mail):
    prefs(bob_mail, email_timing="daily", digest_hour=8, time_zone="America/New_York")
    nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=T0)  # 08:00 in New York
    eight_tomorrow_ny = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)  # EDT is UTC-4
    soon = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[nid], now=T0 + timedelta(seconds=DELAY)
    )
    assert mail.outbox == [] and soon.later == eight_tomorrow_ny
    emails.send_due(user_id=bob_mail.pk, notification_ids=[nid], now=eight_tomorrow_ny)
    (email,) = mail.outbox
    assert email.subject == "Your daily digest: 1 unread notification"


def test_email_off_and_a_kind_switched_off_send_nothing(room, alice, bob_mail):
    message = post(room, alice, "hi bob", 1)
    prefs(bob_mail, email_timing="off")
    off = mention(bob_mail, message, at=T0)
    assert emails.send_due(
        user_id=bob_mail.pk, notification_ids=[off], now=T0 + timedelta(hours=1)
    ).skipped == [off]
    prefs(bob_mail, email_timing="soon", email_kinds=["reply", "direct"])
    switched = mention(bob_mail, post(room, alice, "again bob", 2), at=T0)
    outcome = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[switched], now=T0 + timedelta(hours=1)
    )
    assert outcome.skipped == [switched] and mail.outbox == []


def test_no_address_means_no_email(room, alice, bob):
    nid = mention(bob, post(room, alice, "hi bob", 1), at=T0)
    assert (
        emails.send_due(user_id=bob.pk, notification_ids=[nid], now=T0 + timedelta(hours=1)).sent
        == []
    )
    assert mail.outbox == []


def test_quiet_hours_move_the_send_time_to_their_end(room, alice, bob_mail):
    # 22:00 to 07:00 in Berlin (UTC+2 in June); the mention comes at 21:58 local.
    prefs(bob_mail, quiet_start=time(22), quiet_end=time(7), time_zone="Europe/Berlin")
    at = datetime(2026, 6, 15, 19, 58, tzinfo=UTC)
    nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=at)
    seven_berlin = datetime(2026, 6, 16, 5, 0, tzinfo=UTC)
    waiting = emails.send_due(
        user_id=bob_mail.pk, notification_ids=[nid], now=at + timedelta(seconds=DELAY)
    )
    assert waiting.later == seven_berlin and mail.outbox == []
    emails.send_due(user_id=bob_mail.pk, notification_ids=[nid], now=seven_berlin)
    assert len(mail.outbox) == 1


def test_headers_and_one_click_unsubscribe_per_kind(client, room, alice, bob_mail):
    nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=T0)
    emails.send_due(user_id=bob_mail.pk, notification_ids=[nid], now=T0 + timedelta(hours=1))
    (email,) = mail.outbox
    assert email.from_email == "Relay <relay@chat.example.com>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://chat.example.com/notifications/unsubscribe/")
    path = url.removeprefix("https://chat.example.com")
    # GET asks (link scanners must not unsubscribe anyone); POST does, without login or CSRF.
    page = client.get(path)
    assert page.status_code == 200 and "mentions" in page.content.decode()
    assert "mention" in NotificationSettings.objects.get_or_create(user=bob_mail)[0].email_kinds
    csrf_client = type(client)(enforce_csrf_checks=True)
    done = csrf_client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    row = NotificationSettings.objects.get(user=bob_mail)
    assert row.email_kinds == ["reply", "direct"]
    assert set(row.push_kinds) >= {"mention"}  # push untouched


def test_a_tampered_or_foreign_token_is_refused(client, bob_mail):
    token = emails.unsubscribe_token(user_id=bob_mail.pk, kinds=["mention"])
    assert emails.unsubscribe_read(token) == emails.Unsubscribe(bob_mail.pk, ["mention"])
    tampered = token.replace(
        token.split(":")[0], emails.unsubscribe_token(user_id=1, kinds=["reply"]).split(":")[0]
    )
    for bad in [
        tampered,
        token[:-2] + "xx",
        "nonsense",
        emails.unsubscribe_token(user_id=bob_mail.pk, kinds=["broadcast"]),
    ]:
        response = client.post(f"/notifications/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
    assert not NotificationSettings.objects.filter(user=bob_mail).exists()


def test_stored_notifications_enqueue_one_task_per_user_after_commit(
    room, alice, bob_mail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        before = timezone.now()
        services.notify(
            [bob_mail, alice],  # alice has no address: no task for her
            title="hi",
            kind=Kind.MENTION,
            target=f"chat.message:{post(room, alice, 'x', 1).pk}",
            collapse_key="",
        )
        assert not DBTaskResult.objects.exists()  # not before the commit
    (row,) = DBTaskResult.objects.all()
    assert row.task_path == "notifications.tasks.email_send"
    assert row.args_kwargs["args"][0] == bob_mail.pk
    assert (
        before + timedelta(seconds=DELAY)
        <= row.run_after
        <= timezone.now() + timedelta(seconds=DELAY)
    )


def test_the_task_runs_on_the_worker_once_due(
    room, alice, bob_mail, settings, run_tasks, django_capture_on_commit_callbacks
):
    settings.NOTIFY_EMAIL_DELAY = 0
    with django_capture_on_commit_callbacks(execute=True):
        # A real mention: chat's signal, the mention receiver, then ours.
        chat_services.message_create(room=room, author=alice, body="hi @bob", client_id="m")
    assert run_tasks() == 1
    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_run_enqueued_earlier_carries_the_later_notifications(
    room, alice, bob_mail, run_tasks, django_capture_on_commit_callbacks
):
    ids = []
    for n in range(1, 4):
        with django_capture_on_commit_callbacks(execute=True):
            ids.append(mention(bob_mail, post(room, alice, f"hi bob {n}", n), at=timezone.now()))
    # One run, the first one's: the others come before it and by their own time.
    (run,) = DBTaskResult.objects.all()
    assert run.args_kwargs["args"] == [bob_mail.pk, ids[:1]]
    # Its time comes (the notifications as old as the delay), and it sends all three.
    Notification.objects.update(created_at=timezone.now() - timedelta(seconds=DELAY))
    DBTaskResult.objects.update(run_after=timezone.now())
    assert run_tasks() == 1
    (email,) = mail.outbox
    assert email.subject == "3 unread notifications"
    assert email_deliveries(Delivery.Status.SENT) == sorted(ids)


def test_a_conversation_is_emailed_once_after_its_last_message(
    alice, bob_mail, run_tasks, django_capture_on_commit_callbacks
):
    room = chat_services.direct_room_open(user=alice, username=bob_mail.username)
    for n in range(1, 4):
        with django_capture_on_commit_callbacks(execute=True):
            post(room, alice, f"are you there? {n}", n)
    # One notification, grown by each message; one run, the first message's.
    (grown,) = Notification.objects.filter(recipient=bob_mail)
    assert grown.count == 3
    (first_run,) = DBTaskResult.objects.all()
    # The run's time comes before the last message's delay is over: it moves to then.
    Notification.objects.update(created_at=timezone.now() - timedelta(seconds=DELAY - 100))
    DBTaskResult.objects.update(run_after=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert run_tasks() == 1
    assert mail.outbox == []
    moved = DBTaskResult.objects.exclude(pk=first_run.pk).get()
    assert moved.status == "READY"
    assert timedelta(seconds=90) < moved.run_after - timezone.now() <= timedelta(seconds=100)
    # Then it sends the conversation, once.
    Notification.objects.update(created_at=timezone.now() - timedelta(seconds=DELAY))
    DBTaskResult.objects.filter(pk=moved.pk).update(run_after=timezone.now())
    assert run_tasks() == 1
    (email,) = mail.outbox
    assert "are you there? 3" in email.body
    assert email_deliveries(Delivery.Status.SENT) == [grown.pk]


def test_a_run_due_later_does_not_hold_back_a_sooner_email(
    room, alice, bob_mail, django_capture_on_commit_callbacks
):
    # A digest hour two hours ahead, then email "soon": the digest's run is too late.
    digest_hour = (timezone.now() + timedelta(hours=2)).astimezone(UTC).hour
    prefs(bob_mail, email_timing="daily", digest_hour=digest_hour, time_zone="UTC")
    with django_capture_on_commit_callbacks(execute=True):
        mention(bob_mail, post(room, alice, "hi bob", 1), at=timezone.now())
    prefs(bob_mail, email_timing="soon")
    with django_capture_on_commit_callbacks(execute=True):
        mention(bob_mail, post(room, alice, "hi again", 2), at=timezone.now())
    digest, soon = DBTaskResult.objects.order_by("enqueued_at")
    assert digest.run_after - timezone.now() > timedelta(hours=1)
    assert soon.run_after - timezone.now() <= timedelta(seconds=DELAY)


def test_a_run_whose_time_is_near_or_not_enqueued_covers_nothing(
    room, alice, bob_mail, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=timezone.now())
    stored = Notification.objects.select_related("recipient").get(pk=nid)
    with django_capture_on_commit_callbacks(execute=False):
        # Told inside a transaction that rolls back: its run never came to be.
        email_receivers.on_notifications_stored(
            None, notifications=[stored], kinds=frozenset({stored.kind})
        )
    with django_capture_on_commit_callbacks(execute=True):
        mention(bob_mail, post(room, alice, "hi again", 2), at=timezone.now())
    assert DBTaskResult.objects.count() == 1
    # A delay shorter than the margin: the worker may start a run at any moment.
    settings.NOTIFY_EMAIL_DELAY = int(email_receivers.scheduled.margin.total_seconds())
    for n in (3, 4):
        with django_capture_on_commit_callbacks(execute=True):
            mention(bob_mail, post(room, alice, f"hi {n}", n), at=timezone.now())
    assert DBTaskResult.objects.count() == 3


def test_a_scheduled_run_covers_only_what_it_comes_in_time_for():
    scheduled = email_receivers.ScheduledEmails(
        size=2, margin=timedelta(seconds=30), trust=timedelta(hours=1)
    )
    now = timezone.now()
    scheduled.add(1, now + timedelta(minutes=5))
    assert scheduled.covers(1, now + timedelta(minutes=5), now=now)
    assert scheduled.covers(1, now + timedelta(minutes=9), now=now)
    assert not scheduled.covers(1, now + timedelta(minutes=4), now=now)  # it comes too late
    assert not scheduled.covers(1, now + timedelta(minutes=9), now=now + timedelta(minutes=4.6))
    assert not scheduled.covers(2, now + timedelta(minutes=9), now=now)  # another user
    # Trusted for an hour after it was enqueued: a row deleted by hand holds nothing back longer.
    scheduled.add(3, now + timedelta(hours=5))
    assert scheduled.covers(3, now + timedelta(hours=5), now=now)
    assert not scheduled.covers(3, now + timedelta(hours=5), now=now + timedelta(minutes=61))
    # At most `size` users, the least recently scheduled dropped first.
    scheduled.add(4, now + timedelta(minutes=5))
    assert not scheduled.covers(1, now + timedelta(minutes=9), now=now)
    assert scheduled.covers(4, now + timedelta(minutes=9), now=now)


def test_a_failed_send_is_recorded_and_retried_with_backoff(
    room, alice, bob_mail, settings, run_tasks, django_capture_on_commit_callbacks
):
    settings.NOTIFY_EMAIL_DELAY = 0
    # A mail server that refuses the connection: a real failure, not a mock.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: nothing listens
    with django_capture_on_commit_callbacks(execute=True):
        nid = mention(bob_mail, post(room, alice, "hi bob", 1), at=timezone.now())
    started = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        run_tasks()
    failed, retry = DBTaskResult.objects.order_by("enqueued_at")
    assert failed.status == "FAILED" and "ConnectionRefusedError" in failed.exception_class_path
    assert retry.status == "READY"
    assert retry.args_kwargs["kwargs"] == {"attempt": 2}
    assert retry.run_after >= started + task_helpers.backoff(1)
    assert email_deliveries(Delivery.Status.FAILED) == [nid]
    # The mail server is back, the retry is due: it sends.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    run_tasks()
    assert len(mail.outbox) == 1
    assert email_deliveries(Delivery.Status.SENT) == [nid]


def test_retries_stop_after_the_last_attempt(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            task_helpers.retry(tasks.email_send, 1, [], attempt=task_helpers.MAX_ATTEMPTS) is False
        )
    assert not DBTaskResult.objects.exists()
    assert [task_helpers.backoff(n) for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=4),
        timedelta(minutes=16),
    ]
