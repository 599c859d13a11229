"""Every read of notification data; each is scoped to one recipient."""

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet

from realtime.db import quoted

from .exceptions import NotificationNotFound
from .models import Broadcast, Notification

if TYPE_CHECKING:
    # The model get_user_model() returns (AUTH_USER_MODEL is Django's own).
    from django.contrib.auth.models import User

HELLO_LATEST = 20
RESUME_MAX = 100
PAGE_SIZE = 25


@dataclass(frozen=True)
class UnreadState:
    """How many of the user's notifications with id <= last_id are unread."""

    count: int
    last_id: int


def notifications_for(*, user: "User") -> QuerySet[Notification]:
    """Return the user's notifications, newest first."""
    return Notification.objects.filter(recipient=user).select_related("actor").order_by("-id")


def last_id(*, user: "User") -> int:
    return notifications_for(user=user).values_list("id", flat=True).first() or 0


def unread_count(*, user: "User", through_id: int | None = None) -> int:
    """Count the unread notifications (with id <= through_id): one partial-index read."""
    query = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if through_id is not None:
        query = query.filter(id__lte=through_id)
    return query.count()


def unread_state(*, user: "User") -> UnreadState:
    """The newest id and the unread count up to it, in one statement (read on
    every notifications socket's hello: the ORM's two queries cost ten times
    more CPU to build than to run)."""
    with connection.cursor() as cursor:
        cursor.execute(_unread_state_sql(), [user.pk, user.pk])
        newest, count = cursor.fetchone()
    return UnreadState(count=count, last_id=newest)


@functools.cache
def _unread_state_sql() -> str:
    table, pk, recipient, read_at = quoted(Notification, "id", "recipient", "read_at")
    return (
        f"SELECT newest.id, (SELECT COUNT(*) FROM {table} WHERE {recipient} = %s"  # noqa: S608
        f" AND {read_at} IS NULL AND {pk} <= newest.id)"
        f" FROM (SELECT COALESCE(MAX({pk}), 0) AS id FROM {table} WHERE {recipient} = %s) AS newest"
    )


def notifications_latest(
    *, user: "User", through_id: int, limit: int = HELLO_LATEST
) -> list[Notification]:
    """Return the latest `limit` notifications with id <= through_id, oldest first."""
    page = notifications_for(user=user).filter(id__lte=through_id)[:limit]
    return list(reversed(page))


@dataclass(frozen=True)
class NotificationPage:
    notifications: list[Notification]  # oldest first
    truncated: bool  # the oldest were left out (over the limit)


def notifications_after(
    *, user: "User", after: int, through_id: int, limit: int = RESUME_MAX
) -> NotificationPage:
    """Return the notifications with after < id <= through_id, at most the latest `limit`."""
    newest = list(
        notifications_for(user=user).filter(id__gt=after, id__lte=through_id)[: limit + 1]
    )
    return NotificationPage(list(reversed(newest[:limit])), truncated=len(newest) > limit)


def notification_for(*, user: "User", notification_id: int) -> Notification:
    """Return the user's own notification; raise NotificationNotFound for anyone else's."""
    notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
    if notification is None:
        raise NotificationNotFound()
    return notification


def broadcasts_with_reads(*, limit: int = 20) -> QuerySet[Broadcast]:
    """Return the latest sent broadcasts, each with `read_count` (one query)."""
    return (
        Broadcast.objects.filter(sent_at__isnull=False)
        .annotate(read_count=Count("notifications", filter=Q(notifications__read_at__isnull=False)))
        .order_by("-sent_at")[:limit]
    )


def group_ids(*, user: "User") -> list[int]:
    """Return the ids of the user's Django groups (their broadcast audiences),
    in one statement written once (read on every notifications socket's hello)."""
    with connection.cursor() as cursor:
        cursor.execute(_group_ids_sql(), [user.pk])
        return [group_id for (group_id,) in cursor.fetchall()]


@functools.cache
def _group_ids_sql() -> str:
    table, user, group = quoted(get_user_model().groups.through, "user", "group")
    return f"SELECT {group} FROM {table} WHERE {user} = %s ORDER BY {group}"  # noqa: S608
