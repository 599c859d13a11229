"""Each decision of notifications.policy on its own: per-kind switches, room
levels and mutes, quiet hours (wrapping midnight, in a time zone), and when an
email goes (soon, the daily digest hour across a DST change)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chat import services as chat_services
from chat.models import Membership
from notifications import policy, services
from notifications.models import Broadcast, Kind, Notification, NotificationSettings

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def prefs(user, **fields) -> NotificationSettings:
    row, _ = NotificationSettings.objects.update_or_create(user=user, defaults=fields)
    user.refresh_from_db()
    return row


def about_message(user, message, kind=Kind.MENTION) -> Notification:
    [row] = services.notify(
        user,
        title="x",
        kind=kind,
        target=f"chat.message:{message.pk}",
        collapse_key="",
    )
    return Notification.objects.select_related("recipient").get(pk=row.pk)


@pytest.fixture
def room(public_room):
    return public_room


@pytest.fixture
def message(room, bob):
    return chat_services.message_create(
        room=room, author=bob, body="hi @alice", client_id="c1"
    ).message


@pytest.fixture
def alice_member(alice, room):
    return Membership.objects.get(room=room, user=alice)


# --- defaults and switches ----------------------------------------------------


def test_a_user_without_a_row_has_the_defaults_and_nothing_is_stored(alice):
    row = policy.settings_for(alice)
    assert row.pk is None
    assert row.email_kinds == ["mention", "reply", "direct"]
    assert row.push_kinds == ["mention", "reply", "direct", "broadcast"]
    assert row.email_timing == "soon" and row.digest_hour == 8 and row.time_zone == "UTC"
    assert not NotificationSettings.objects.exists()


def test_a_users_row_is_read_once_and_kept_as_the_orm_keeps_it(
    alice, bob, django_assert_num_queries
):
    stored = prefs(
        alice, email_timing="daily", time_zone=BERLIN, quiet_start=time(22), push_kinds=["direct"]
    )
    alice = type(alice).objects.get(pk=alice.pk)
    with django_assert_num_queries(1):
        row = policy.settings_for(alice)
        assert policy.settings_for(alice) is row is alice.notification_settings
    assert row.pk == stored.pk and row.user is alice
    assert (row.email_timing, row.zone, row.quiet_start) == ("daily", ZoneInfo(BERLIN), time(22))
    assert row.push_kinds == ["direct"]
    # No row: the defaults, and the missing row is kept too.
    with django_assert_num_queries(1):
        assert policy.settings_for(bob).pk is None and policy.settings_for(bob).pk is None


@pytest.mark.parametrize(
    ("level", "kind", "allowed"),
    [
        ("all", "reaction", True),
        ("all", "mention", True),
        ("mentions", "mention", True),
        ("mentions", "reply", True),
        ("mentions", "direct", True),
        ("mentions", "reaction", False),
        ("none", "mention", False),
        ("none", "direct", False),
    ],
)
def test_room_levels(level, kind, allowed):
    assert policy.room_level_allows(level, kind) is allowed


def test_email_wanted_for_a_mention_by_default(alice, alice_member, message):
    alice.email = "alice@example.com"
    alice.save()
    assert policy.email_wanted(about_message(alice, message), now=NOW)


def test_email_not_wanted_when_switched_off_per_kind(alice, alice_member, message):
    alice.email = "alice@example.com"
    alice.save()
    prefs(alice, email_kinds=["reply"])
    assert not policy.email_wanted(about_message(alice, message), now=NOW)  # fresh rows
    assert policy.email_wanted(about_message(alice, message, kind=Kind.REPLY), now=NOW)


def test_email_never_for_reactions_broadcasts_or_read_or_without_address(
    alice, alice_member, message
):
    prefs(alice, email_kinds=list(Kind.values))
    assert not policy.email_wanted(about_message(alice, message), now=NOW)  # no address
    alice.email = "alice@example.com"
    alice.save()
    assert not policy.email_wanted(about_message(alice, message, kind=Kind.REACTION), now=NOW)
    read = about_message(alice, message)
    read.read_at = NOW
    assert not policy.email_wanted(read, now=NOW)
    alice.is_active = False
    alice.save()
    assert not policy.email_wanted(about_message(alice, message), now=NOW)


def test_email_timing_off_wants_no_email(alice, alice_member, message):
    alice.email = "alice@example.com"
    alice.save()
    prefs(alice, email_timing="off")
    notification = about_message(alice, message)
    assert not policy.email_wanted(notification, now=NOW)
    assert policy.email_send_at(alice, now=NOW) is None


def test_room_level_and_mute_stop_email_and_push(alice, alice_member, message, room):
    alice.email = "alice@example.com"
    alice.save()
    notification = about_message(alice, message)
    chat_services.membership_notify_set(room=room, user=alice, level="none")
    assert not policy.email_wanted(notification, now=NOW)
    assert not policy.push_wanted(notification, now=NOW)

    chat_services.membership_notify_set(
        room=room, user=alice, level="all", muted_until=NOW + timedelta(hours=1)
    )
    assert not policy.email_wanted(notification, now=NOW)
    assert not policy.push_wanted(notification, now=NOW)
    # The mute ends on its own.
    later = NOW + timedelta(hours=1, seconds=1)
    assert policy.email_wanted(notification, now=later)
    assert policy.push_wanted(notification, now=later)


@pytest.mark.parametrize(
    "target",
    ["chat.message:{message}", "chat.room:{room}"],
)
def test_the_membership_a_notification_is_about(alice, alice_member, message, room, target):
    row = Notification(recipient=alice, target=target.format(message=message.pk, room=room.pk))
    assert policy.membership_for(row) == alice_member


@pytest.mark.parametrize(
    "target",
    [
        "",
        "chat.message:",
        "chat.message:x",
        "chat.message:-1",
        "chat.message:{missing}",
        "chat.message:99999999999999999999",
        "chat.room:99999999999999999999",
        "elsewhere:1",
    ],
)
def test_no_membership_for_a_target_of_no_room(alice, alice_member, message, target):
    row = Notification(recipient=alice, target=target.format(missing=message.pk + 1000))
    assert policy.membership_for(row) is None


def test_no_membership_of_a_room_one_is_not_in(carol, message, room):
    assert (
        policy.membership_for(Notification(recipient=carol, target=f"chat.room:{room.pk}")) is None
    )


def test_push_per_kind_switch(alice, alice_member, message):
    notification = about_message(alice, message, kind=Kind.REACTION)
    assert not policy.push_wanted(notification, now=NOW)
    prefs(alice, push_kinds=["reaction"])
    assert policy.push_wanted(Notification.objects.get(pk=notification.pk), now=NOW)


def test_push_waits_out_quiet_hours_but_a_critical_broadcast_does_not(alice):
    prefs(alice, quiet_start=time(11), quiet_end=time(13), push_kinds=[])
    services.broadcast(title="Routine", audience=[alice])
    routine = Notification.objects.select_related("recipient", "broadcast").get()
    assert routine.kind == Kind.BROADCAST
    assert not policy.push_wanted(routine, now=NOW)

    record = Broadcast.objects.create(title="Outage", critical=True, audience="users")
    record.users.set([alice])
    services.broadcast_send(broadcast=record)
    critical = Notification.objects.select_related("recipient", "broadcast").get(broadcast=record)
    assert policy.push_wanted(critical, now=NOW)


# --- quiet hours --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "local", "quiet"),
    [
        (time(9), time(17), time(8, 59), False),
        (time(9), time(17), time(9), True),
        (time(9), time(17), time(16, 59), True),
        (time(9), time(17), time(17), False),
        # Wrapping midnight.
        (time(22), time(7), time(21, 59), False),
        (time(22), time(7), time(22), True),
        (time(22), time(7), time(0, 30), True),
        (time(22), time(7), time(6, 59), True),
        (time(22), time(7), time(7), False),
        # Start equal to end: no quiet hours.
        (time(8), time(8), time(8), False),
    ],
)
def test_in_quiet_hours(start, end, local, quiet):
    row = NotificationSettings(quiet_start=start, quiet_end=end, time_zone=BERLIN)
    moment = datetime.combine(NOW.date(), local, tzinfo=ZoneInfo(BERLIN))
    assert policy.in_quiet_hours(row, moment) is quiet


def test_quiet_hours_are_in_the_users_time_zone():
    row = NotificationSettings(quiet_start=time(22), quiet_end=time(7), time_zone=NEW_YORK)
    # 03:00 UTC is 23:00 in New York (EDT) and 05:00 in Berlin.
    moment = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
    assert policy.in_quiet_hours(row, moment)
    row.time_zone = "Asia/Tokyo"  # 12:00 there
    assert not policy.in_quiet_hours(row, moment)


def test_no_quiet_hours_without_both_times():
    assert not policy.in_quiet_hours(NotificationSettings(quiet_start=time(0)), NOW)


# --- when an email goes -------------------------------------------------------


def test_soon_is_after_the_delay(alice, settings):
    settings.NOTIFY_EMAIL_DELAY = 300
    assert policy.email_send_at(alice, now=NOW) == NOW + timedelta(seconds=300)


def test_soon_moves_to_the_end_of_quiet_hours_past_midnight(alice, settings):
    settings.NOTIFY_EMAIL_DELAY = 300
    prefs(alice, quiet_start=time(22), quiet_end=time(7), time_zone=BERLIN)
    # 21:58 in Berlin (CEST, UTC+2): five minutes later is 22:03, quiet until 07:00.
    now = datetime(2026, 6, 15, 19, 58, tzinfo=UTC)
    assert policy.email_send_at(alice, now=now) == datetime(2026, 6, 16, 5, 0, tzinfo=UTC)


def test_daily_is_the_next_digest_hour_in_the_users_zone(alice):
    prefs(alice, email_timing="daily", digest_hour=8, time_zone=NEW_YORK)
    # 11:00 UTC is 07:00 in New York (EDT): today at 08:00 local, 12:00 UTC.
    now = datetime(2026, 6, 15, 11, 0, tzinfo=UTC)
    assert policy.email_send_at(alice, now=now) == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    # Just past 08:00 local: tomorrow.
    now = datetime(2026, 6, 15, 12, 0, 1, tzinfo=UTC)
    assert policy.email_send_at(alice, now=now) == datetime(2026, 6, 16, 12, 0, tzinfo=UTC)


def test_daily_keeps_the_local_hour_across_a_dst_change(alice):
    prefs(alice, email_timing="daily", digest_hour=8, time_zone=NEW_YORK)
    # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT. Asked on the evening
    # before, 08:00 local is 12:00 UTC (EDT), not 13:00 (EST).
    now = datetime(2026, 3, 8, 2, 0, tzinfo=UTC)  # 21:00 EST on the 7th
    assert policy.email_send_at(alice, now=now) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    # A digest hour the jump skips (02:00) goes out at 03:00 EDT that day.
    prefs(alice, email_timing="daily", digest_hour=2, time_zone=NEW_YORK)
    assert policy.email_send_at(alice, now=now) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_daily_in_quiet_hours_moves_to_their_end(alice):
    prefs(
        alice,
        email_timing="daily",
        digest_hour=6,
        time_zone=BERLIN,
        quiet_start=time(22),
        quiet_end=time(7, 30),
    )
    now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    assert policy.email_send_at(alice, now=now) == datetime(2026, 6, 16, 5, 30, tzinfo=UTC)
