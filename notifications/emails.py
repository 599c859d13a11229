"""Notification emails: which unread notifications go out, when, and in what.

A mention, reply or direct message that is still unread NOTIFY_EMAIL_DELAY seconds
after it arrived (or at the user's daily digest hour) is emailed, like Zulip's
missed-message emails and Slack's: the first one to come due sends every
notification of the user still waiting, as ONE email grouped by room, newest
first. Whether a notification is wanted and when it is due are notifications.policy's
decisions, asked again when the email is about to go, since the user may have read
it or changed their preferences in between. Every email records a Delivery for each
notification it carries; a notification read or switched off meanwhile records a
skipped one.

The one-click unsubscribe link of every email (RFC 8058) carries a token signed with
django.core.signing that names the user and the kinds the email is about; it needs
no login and is refused when tampered with.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from accounts import selectors as accounts_selectors
from chat.models import Message, Room
from chat.selectors import room_display_name

from . import deliveries, policy
from .models import Delivery, Kind, Notification, NotificationSettings, target_id

logger = logging.getLogger(__name__)

User = get_user_model()

UNSUBSCRIBE_SALT = "notifications.email.unsubscribe"
EMAIL_KINDS = policy.EMAIL_KINDS


# --- Links -----------------------------------------------------------------------


def absolute(path: str) -> str:
    """Return the site's absolute URL for `path` (settings.SITE_URL)."""
    return f"{settings.SITE_URL}{path}"


def unsubscribe_token(*, user_id: int, kinds: Iterable[str]) -> str:
    """Return a signed token naming the user and the kinds to stop emailing."""
    return signing.dumps({"u": user_id, "k": sorted(set(kinds))}, salt=UNSUBSCRIBE_SALT)


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid unsubscribe token asks for."""

    user_id: int
    kinds: list[str]


def unsubscribe_read(token: str) -> Unsubscribe | None:
    """Return what `token` asks for, or None when it was tampered with or is not ours."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user_id, kinds = data.get("u"), data.get("k")
    if not isinstance(user_id, int) or not isinstance(kinds, list) or not kinds:
        return None
    if not all(kind in EMAIL_KINDS for kind in kinds):
        return None
    return Unsubscribe(user_id=user_id, kinds=kinds)


def unsubscribe_url(*, user_id: int, kinds: Iterable[str]) -> str:
    token = unsubscribe_token(user_id=user_id, kinds=kinds)
    return absolute(reverse("notifications:email_unsubscribe", kwargs={"token": token}))


@transaction.atomic
def email_unsubscribe(*, user, kinds: Iterable[str]) -> NotificationSettings:
    """Switch email off for `kinds` in the user's preferences (kept for push)."""
    row, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
    unwanted = set(kinds)
    row.email_kinds = [kind for kind in row.email_kinds if kind not in unwanted]
    row.save(update_fields=["email_kinds"])
    logger.info("email unsubscribed", extra={"user_id": user.pk, "kinds": sorted(unwanted)})
    return row


# --- What one email holds ---------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    title: str
    body: str
    url: str
    created_at: datetime


@dataclass
class RoomSection:
    name: str
    url: str
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class KindLink:
    label: str
    url: str


def sections(user, notifications: list[Notification]) -> list[RoomSection]:
    """Group `notifications` (newest first) by the room they are about, rooms in the
    order of their newest notification; links open the room at the message."""
    message_ids = {target_id(n.target, policy.MESSAGE_TARGET) for n in notifications} - {None}
    room_ids = {target_id(n.target, policy.ROOM_TARGET) for n in notifications} - {None}
    messages = Message.objects.filter(pk__in=message_ids).select_related("room").in_bulk()
    rooms = Room.objects.in_bulk(room_ids)
    grouped: dict[int | None, RoomSection] = {}
    for notification in notifications:
        message_id = target_id(notification.target, policy.MESSAGE_TARGET)
        message = messages.get(message_id) if message_id is not None else None
        room_id = target_id(notification.target, policy.ROOM_TARGET)
        room = message.room if message is not None else rooms.get(room_id) if room_id else None
        if message is not None:
            url = absolute(f"{message.room.get_absolute_url()}?at={message.seq}")
        else:
            url = absolute(notification.get_absolute_url())
        key = room.pk if room is not None else None
        if key not in grouped:
            if room is not None:
                name, link = room_display_name(room=room, user=user), room.get_absolute_url()
            else:
                name, link = gettext("Other notifications"), reverse("notifications:list")
            grouped[key] = RoomSection(name, absolute(link))
        grouped[key].entries.append(
            Entry(notification.title, notification.body, url, notification.created_at)
        )
    return list(grouped.values())


def subject(notifications: list[Notification], *, digest: bool) -> str:
    count = len(notifications)
    if digest:
        return ngettext(
            "Your daily digest: %(count)s unread notification",
            "Your daily digest: %(count)s unread notifications",
            count,
        ) % {"count": count}
    if count == 1:
        return notifications[0].title
    return ngettext("%(count)s unread notification", "%(count)s unread notifications", count) % {
        "count": count
    }


def message_for(user, notifications: list[Notification], *, digest: bool) -> EmailMultiAlternatives:
    """Build the email (text and HTML from templates) for `notifications`, newest
    first, in the user's language and time zone."""
    language = accounts_selectors.languages(user_ids=[user.pk])[user.pk]
    with translation.override(language), timezone.override(policy.settings_for(user).zone):
        return _message(user, notifications, digest=digest, language=language)


def _message(
    user, notifications: list[Notification], *, digest: bool, language: str
) -> EmailMultiAlternatives:
    kinds = sorted({n.kind for n in notifications})
    labels = dict(Kind.choices)
    context = {
        "user": user,
        "sections": sections(user, notifications),
        "count": len(notifications),
        "digest": digest,
        "zone": policy.settings_for(user).zone,
        "site_url": settings.SITE_URL,
        "settings_url": absolute(reverse("notification_settings")),
        "unsubscribe_links": [
            KindLink(labels.get(kind, kind).lower(), unsubscribe_url(user_id=user.pk, kinds=[kind]))
            for kind in kinds
        ],
    }
    email = EmailMultiAlternatives(
        subject=subject(notifications, digest=digest),
        body=render_to_string("notifications/email/notifications.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to this URL.
            "List-Unsubscribe": f"<{unsubscribe_url(user_id=user.pk, kinds=kinds)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # RFC 3834: no out-of-office replies to this.
            "Auto-Submitted": "auto-generated",
            "Content-Language": language,
        },
    )
    email.attach_alternative(
        render_to_string("notifications/email/notifications.html", context), "text/html"
    )
    return email


# --- Sending ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one run for a user did: ids emailed, ids skipped, and the time to run
    again when nothing was due yet (None when there is nothing to wait for)."""

    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    later: datetime | None = None


def _emailed_or_skipped() -> Exists:
    """True for a notification an email has carried or skipped (a failed one is retried)."""
    return Exists(
        Delivery.objects.filter(
            notification=OuterRef("pk"),
            channel=Delivery.Channel.EMAIL,
            status__in=[Delivery.Status.SENT, Delivery.Status.SKIPPED],
        )
    )


def _waiting(user) -> list[Notification]:
    """The user's unread notifications of the kinds email carries that no email
    has carried or skipped yet, newest first."""
    return list(
        Notification.objects.filter(recipient=user, read_at__isnull=True, kind__in=EMAIL_KINDS)
        .filter(~_emailed_or_skipped())
        .select_related("recipient", "broadcast")
        .order_by("-id")
    )


def send_due(*, user_id: int, notification_ids: list[int], now: datetime) -> Outcome:
    """Email the user every notification waiting for email if the earliest is due
    by `now`, as one message; record the deliveries.

    `notification_ids` are those this run was scheduled for: the ones no longer
    wanted (read meanwhile, switched off) are recorded as skipped. (Those stored
    while it waited, whose email it covers, enqueued no run of their own:
    notifications.email_receivers. Read meanwhile, they are not recorded.) Raise
    when the mail server fails (nothing is recorded as sent; the task retries).
    """
    with transaction.atomic():
        # One run per user at a time: a second run waits here and then finds the
        # notifications this one sent.
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            return Outcome()
        waiting = _waiting(user)
        wanted = [n for n in waiting if policy.email_wanted(n, now=now)]
        wanted_ids = {n.pk for n in wanted}
        unwanted = list(
            Notification.objects.filter(pk__in=notification_ids, recipient=user)
            .filter(~_emailed_or_skipped())
            .exclude(pk__in=wanted_ids)
            .values_list("pk", flat=True)
        )
        if unwanted:
            deliveries.record(
                unwanted,
                channel=Delivery.Channel.EMAIL,
                status=Delivery.Status.SKIPPED,
                detail="read before it was due, or no longer wanted by email",
            )
        if not wanted:
            return Outcome(skipped=unwanted)
        # The preferences of now decide when the earliest waiting one is due.
        due = policy.email_send_at(user, now=min(n.created_at for n in wanted))
        preferences = policy.settings_for(user)
        if due is not None and policy.in_quiet_hours(preferences, now):
            due = max(due, policy.quiet_hours_end(preferences, now))
        if due is None or due > now:
            return Outcome(skipped=unwanted, later=due)
        digest = preferences.email_timing == NotificationSettings.EmailTiming.DAILY
        message_for(user, wanted, digest=digest).send()
        deliveries.record(wanted, channel=Delivery.Channel.EMAIL, status=Delivery.Status.SENT)
    logger.info(
        "notification email sent",
        extra={"user_id": user_id, "notifications": len(wanted), "digest": digest},
    )
    return Outcome(sent=[n.pk for n in wanted], skipped=unwanted)


def record_failure(*, user_id: int, error: BaseException, now: datetime) -> None:
    """Record a failed email delivery for the notifications that wait for it."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    deliveries.record(
        [n for n in _waiting(user) if policy.email_wanted(n, now=now)],
        channel=Delivery.Channel.EMAIL,
        status=Delivery.Status.FAILED,
        detail=f"{type(error).__name__}: {error}"[:500],
    )
