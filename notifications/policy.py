"""Whether and when a notification goes beyond the open tab (email, Web Push):
every decision the preferences drive, in one place, each a function of its
inputs (the rows it reads and `now`), so each is unit-tested on its own.

Room levels (chat's Membership.notify_level) decide which notifications a room
causes at all (the receivers ask `room_level_allows` before storing), and are
asked again here because they may have changed before an email goes. A muted
room still fills the inbox; nothing from it is emailed or pushed until then.
"""

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from chat.models import Membership, Message
from realtime.db import Rows, rows_in

from .models import (
    MESSAGE_TARGET,
    ROOM_TARGET,
    Kind,
    Notification,
    NotificationSettings,
    target_id,
)

_MEMBERSHIP_FIELDS = tuple(field.name for field in Membership._meta.concrete_fields)

# What may be emailed at all: things addressed to one person.
EMAIL_KINDS = frozenset({Kind.MENTION, Kind.REPLY, Kind.DIRECT})
# What a room set to "mentions only" still causes: what names or answers you.
MENTIONS_LEVEL_KINDS = frozenset({Kind.MENTION, Kind.REPLY, Kind.DIRECT})


# User.notification_settings: the reverse side of NotificationSettings.user.
_SETTINGS_OF_USER = NotificationSettings._meta.get_field("user").remote_field
_settings_rows = Rows(NotificationSettings, ("user", "="))
_NOT_READ = object()


def settings_for(user) -> NotificationSettings:
    """The user's preferences: their row, or (unsaved) the defaults.

    Kept on the user as `user.notification_settings` keeps it (a missing row
    too), but read by a statement of fixed shape (realtime.db.Rows): every
    notification weighed for an email reads it, and the ORM's query building
    for that one row cost more CPU than the rest of the decision."""
    row = _SETTINGS_OF_USER.get_cached_value(user, default=_NOT_READ)
    if row is _NOT_READ:
        row = _settings_rows.first(user.pk)
        _SETTINGS_OF_USER.set_cached_value(user, row)
        if row is not None:
            _SETTINGS_OF_USER.field.set_cached_value(row, user)
    return row if isinstance(row, NotificationSettings) else NotificationSettings(user=user)


def room_level_allows(level: str, kind: str) -> bool:
    """Whether a room at `level` causes a notification of `kind` for the member."""
    if level == Membership.NotifyLevel.NONE:
        return False
    if level == Membership.NotifyLevel.MENTIONS:
        return kind in MENTIONS_LEVEL_KINDS
    return True


def is_muted(membership: Membership, now: datetime) -> bool:
    return membership.muted_until is not None and membership.muted_until > now


def membership_for(notification: Notification) -> Membership | None:
    """The recipient's membership of the room the notification is about, if any.

    Statements of fixed shape (realtime.db.rows_in): every notification weighed
    for an email or a push asks (in one process on PostgreSQL, about 340 us of
    CPU; the ORM's one read with its join about 700 us).
    """
    room_id = target_id(notification.target, ROOM_TARGET)
    message_id = target_id(notification.target, MESSAGE_TARGET)
    if message_id is not None:
        messages = rows_in(Message, ("room",), id=[message_id])
        room_id = messages[0].room_id if messages else None
    if room_id is None:
        return None
    found = rows_in(
        Membership, _MEMBERSHIP_FIELDS, room=[room_id], user=[notification.recipient_id]
    )
    return found[0] if found else None


def room_allows(notification: Notification, *, now: datetime) -> bool:
    """Whether the room it is about (if any) lets it out now: level and mute."""
    membership = membership_for(notification)
    if membership is None:
        return True
    return room_level_allows(membership.notify_level, notification.kind) and not is_muted(
        membership, now
    )


def is_critical(notification: Notification) -> bool:
    return (
        notification.kind == Kind.BROADCAST
        and notification.broadcast is not None
        and notification.broadcast.critical
    )


def in_quiet_hours(settings_row: NotificationSettings, now: datetime) -> bool:
    """Whether `now` falls in the user's quiet hours (local time, may wrap midnight)."""
    hours = settings_row.quiet_hours
    if hours is None:
        return False
    start, end = hours
    local = now.astimezone(settings_row.zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _local_at(day, at: time, settings_row: NotificationSettings) -> datetime:
    """`day` at local time `at` in the user's zone, as an aware datetime; a
    time a DST jump skips becomes the first one after it."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=settings_row.zone)
    # A round trip through UTC normalises a skipped time (02:30 → 03:30).
    return aware.astimezone(UTC).astimezone(settings_row.zone)


def next_local(settings_row: NotificationSettings, at: time, *, after: datetime) -> datetime:
    """The first moment strictly after `after` when the user's clock shows `at`."""
    day = after.astimezone(settings_row.zone).date()
    for offset in range(3):
        candidate = _local_at(day + timedelta(days=offset), at, settings_row)
        if candidate > after:
            return candidate
    raise AssertionError("a local time recurs within three days")


def quiet_hours_end(settings_row: NotificationSettings, moment: datetime) -> datetime:
    """`moment`, or the end of the quiet hours it falls in."""
    hours = settings_row.quiet_hours
    if hours is None or not in_quiet_hours(settings_row, moment):
        return moment
    return next_local(settings_row, hours[1], after=moment)


def email_send_at(user, *, now: datetime) -> datetime | None:
    """When a notification stored `now` for `user` should be emailed: after
    NOTIFY_EMAIL_DELAY (soon), at the next digest hour in their zone (daily), or
    never (None); moved out of quiet hours."""
    settings_row = settings_for(user)
    if settings_row.email_timing == NotificationSettings.EmailTiming.SOON:
        at = now + timedelta(seconds=settings.NOTIFY_EMAIL_DELAY)
    elif settings_row.email_timing == NotificationSettings.EmailTiming.DAILY:
        at = next_local(settings_row, time(settings_row.digest_hour), after=now)
    else:
        return None
    return quiet_hours_end(settings_row, at)


def can_be_emailed(user) -> bool:
    """Whether anything may be emailed to `user` at all: active, with an address."""
    return bool(user.is_active and user.email)


def email_wanted(notification: Notification, *, now: datetime | None = None) -> bool:
    """Whether this notification should (still) be emailed: an unread mention,
    reply or direct message, switched on for email, to an active user with an
    address, from a room that lets it out."""
    user = notification.recipient
    if notification.kind not in EMAIL_KINDS or notification.read_at is not None:
        return False
    if not can_be_emailed(user):
        return False
    settings_row = settings_for(user)
    if settings_row.email_timing == NotificationSettings.EmailTiming.OFF:
        return False
    if notification.kind not in settings_row.email_kinds:
        return False
    return room_allows(notification, now=now or timezone.now())


def push_wanted(notification: Notification, *, now: datetime) -> bool:
    """Whether to push this notification now. A critical broadcast always goes
    (to an active user); anything else needs its kind switched on for push, an
    unread notification, a room that lets it out and no quiet hours."""
    user = notification.recipient
    if not user.is_active:
        return False
    if is_critical(notification):
        return True
    if notification.read_at is not None:
        return False
    settings_row = settings_for(user)
    if notification.kind not in settings_row.push_kinds:
        return False
    if in_quiet_hours(settings_row, now):
        return False
    return room_allows(notification, now=now)
