"""Every write of notification data. Each stores first and pushes after commit
(events.py); the `a`-prefixed twins are for async code."""

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from realtime.errors import Refused

from . import events, frames, metrics, selectors
from .exceptions import NotificationNotFound
from .models import Broadcast, Notification
from .selectors import UnreadState
from .validation import Content, clean_content

logger = logging.getLogger(__name__)

User = get_user_model()

# Rows per INSERT at most; the database may lower it (SQLite's parameter limit).
BATCH_SIZE = 1000


def _user_ids(recipients) -> list[int]:
    """Return the distinct ids of a user, or of an iterable or queryset of users, ascending."""
    if isinstance(recipients, User):
        recipients = [recipients]
    if isinstance(recipients, QuerySet):
        if recipients.model is not User:
            raise TypeError(f"Expected a queryset of users, not of {recipients.model.__name__}.")
        return sorted(set(recipients.values_list("pk", flat=True)))
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise TypeError(
            "recipients must be a user, an iterable or queryset of users, or a Group; "
            f"not {type(recipients).__name__}."
        )
    ids = set()
    for user in recipients:
        if not isinstance(user, User):
            raise TypeError(f"Expected users, not {type(user).__name__}.")
        if user.pk is None:
            raise Refused("A recipient must be a saved user.")
        ids.add(user.pk)
    return sorted(ids)


def _active_members(group_ids: list[int]) -> list[int]:
    members = User.objects.filter(is_active=True, groups__in=group_ids).values_list("pk", flat=True)
    return sorted(set(members))


def _store(
    *,
    user_ids: list[int],
    content: Content,
    broadcast: Broadcast | None = None,
    everyone: bool = False,
    group_ids: Iterable[int] = (),
    target: str = "",
) -> list[Notification]:
    """Insert one row per recipient in bulk and push them after commit."""
    if not user_ids:
        return []
    now = timezone.now()
    fields = asdict(content)
    rows = Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id, broadcast=broadcast, created_at=now, target=target, **fields
            )
            for user_id in user_ids
        ],
        batch_size=BATCH_SIZE,
    )
    events.notifications_created(
        content=frames.content_text(**fields, created_at=now),
        pairs=[(row.recipient_id, row.pk) for row in rows],
        everyone=everyone,
        group_ids=group_ids,
        broadcast_id=broadcast.pk if broadcast is not None else None,
    )
    return rows


@transaction.atomic
def notify(
    recipients,
    *,
    title: str,
    body: str = "",
    level: str = "info",
    url: str = "",
    target: str = "",
) -> list[Notification]:
    """Store a notification for each recipient and push it live after commit.

    `recipients`: a user, an iterable or queryset of users, or a Group (its active
    members). `target` names what it is about ("chat.message:8812") for
    `notifications_withdraw_body`. Raise Refused for content the contract
    refuses, storing nothing.
    """
    content = clean_content(title=title, body=body, level=level, url=url)
    if isinstance(recipients, Group):
        return _store(
            user_ids=_active_members([recipients.pk]),
            content=content,
            group_ids=[recipients.pk],
            target=target,
        )
    return _store(user_ids=_user_ids(recipients), content=content, target=target)


@transaction.atomic
def notifications_withdraw_body(*, target: str) -> int:
    """Empty the body of every notification about `target` (what it quoted was
    deleted); return how many changed. Sockets see it on their next hello."""
    if not target:
        return 0
    return Notification.objects.filter(target=target).exclude(body="").update(body="")


async def anotify(recipients, **content) -> list[Notification]:
    """`notify` for async code."""
    return await database_sync_to_async(notify)(recipients, **content)


def _audience(audience) -> tuple[str, list[Group], list]:
    """Split `audience` into (kind, groups, users)."""
    if audience is None:
        return Broadcast.Audience.ALL, [], []
    if isinstance(audience, Group | User):
        audience = [audience]
    if isinstance(audience, str | bytes) or not isinstance(audience, Iterable):
        raise TypeError("audience must be None, groups or users.")
    items = list(audience)
    if items and all(isinstance(item, Group) for item in items):
        return Broadcast.Audience.GROUPS, items, []
    if items and all(isinstance(item, User) for item in items):
        return Broadcast.Audience.USERS, [], items
    raise Refused("An audience is None (every active user), some groups or some users.")


@transaction.atomic
def broadcast(
    *,
    title: str,
    body: str = "",
    level: str = "info",
    url: str = "",
    audience=None,
    created_by=None,
) -> Broadcast:
    """Record a Broadcast and send it: `audience` None is every active user, else
    some groups or some users."""
    content = clean_content(title=title, body=body, level=level, url=url)
    kind, groups, users = _audience(audience)
    record = Broadcast.objects.create(**asdict(content), audience=kind, created_by=created_by)
    if groups:
        record.groups.set(groups)
    if users:
        record.users.set(users)
    broadcast_send(broadcast=record)
    return record


async def abroadcast(**kwargs) -> Broadcast:
    """`broadcast` for async code."""
    return await database_sync_to_async(broadcast)(**kwargs)


@transaction.atomic
def broadcast_send(*, broadcast: Broadcast) -> int:
    """Send a saved Broadcast to its audience once; return how many got it.

    A Broadcast that was sent already is never sent again (returns 0).
    """
    locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if locked.sent_at is not None:
        return 0
    content = clean_content(
        title=locked.title, body=locked.body, level=locked.level, url=locked.url
    )
    if locked.audience == Broadcast.Audience.ALL:
        active = User.objects.filter(is_active=True).order_by("pk")
        user_ids = list(active.values_list("pk", flat=True))
        rows = _store(user_ids=user_ids, content=content, broadcast=locked, everyone=True)
    elif locked.audience == Broadcast.Audience.GROUPS:
        group_ids = sorted(locked.groups.values_list("pk", flat=True))
        rows = _store(
            user_ids=_active_members(group_ids),
            content=content,
            broadcast=locked,
            group_ids=group_ids,
        )
    else:
        user_ids = sorted(locked.users.filter(is_active=True).values_list("pk", flat=True))
        rows = _store(user_ids=user_ids, content=content, broadcast=locked)
    locked.sent_at = timezone.now()
    locked.recipient_count = len(rows)
    locked.save(update_fields=["sent_at", "recipient_count"])
    broadcast.sent_at, broadcast.recipient_count = locked.sent_at, locked.recipient_count
    metrics.broadcasts_sent.labels(metrics.WORKER).inc()
    logger.info(
        "broadcast sent",
        extra={"event": "broadcast", "broadcast_id": locked.pk, "recipients": len(rows)},
    )
    return len(rows)


@dataclass(frozen=True)
class ReadMarked:
    """The user's unread state after marking, and whether anything changed (if
    not, no event follows: the caller answers its own socket)."""

    state: UnreadState
    changed: bool


@transaction.atomic
def notification_mark_read(*, user, notification_id: int) -> ReadMarked:
    """Mark one of the user's notifications read.

    Raise NotificationNotFound for someone else's or a missing id. Every socket of
    the user hears the new count when it changed.
    """
    updated = Notification.objects.filter(
        pk=notification_id, recipient=user, read_at__isnull=True
    ).update(read_at=timezone.now())
    if not updated:
        selectors.notification_for(user=user, notification_id=notification_id)
    state = selectors.unread_state(user=user)
    if updated:
        events.unread_changed(
            user_id=user.pk, count=state.count, last_id=state.last_id, read=[notification_id]
        )
    return ReadMarked(state, changed=bool(updated))


@transaction.atomic
def notification_mark_all_read(*, user) -> ReadMarked:
    """Mark every notification of the user read."""
    newest = selectors.last_id(user=user)
    updated = Notification.objects.filter(
        recipient=user, read_at__isnull=True, id__lte=newest
    ).update(read_at=timezone.now())
    # Every row up to `newest` is read now, inside this transaction.
    state = UnreadState(count=0, last_id=newest)
    if updated:
        events.unread_changed(
            user_id=user.pk, count=state.count, last_id=state.last_id, read_all=True
        )
    return ReadMarked(state, changed=bool(updated))


__all__ = [
    "NotificationNotFound",
    "abroadcast",
    "anotify",
    "broadcast",
    "broadcast_send",
    "notification_mark_all_read",
    "notification_mark_read",
    "notify",
]
