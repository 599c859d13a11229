"""Every write of notification data. Each stores first and pushes after commit
(events.py); the `a`-prefixed twins are for async code."""

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, overload

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.base import ModelState
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import selectors as accounts_selectors
from chat.models import Message
from realtime.db import Rows, delete_in, run_together
from realtime.errors import Refused
from realtime.metrics import here

from . import deliveries, events, frames, metrics, selectors, signals, tasks
from .exceptions import NotificationNotFound
from .models import MESSAGE_TARGET, Broadcast, Delivery, Kind, Notification, target_id
from .selectors import UnreadState
from .validation import TITLE_MAX, Content, clean_content

if TYPE_CHECKING:
    from chat.models import Room
    from realtime.push import Push

logger = logging.getLogger(__name__)

User = get_user_model()

# A title rendered per recipient language (notifications.titles): the newest
# actors' names and how many others there are.
TitleFor = Callable[[list[str], int], str]

# Rows per INSERT at most; the database may lower it (SQLite's parameter limit).
BATCH_SIZE = 1000
# The distinct actors a grouped notification remembers (the title counts them).
ACTORS_KEPT = 100


def _recipients(recipients) -> dict[int, Any]:
    """Return the distinct recipients of a user, or of an iterable or queryset
    of users, by id ascending: each with the user given (None for a queryset,
    which is read for its ids only)."""
    if isinstance(recipients, User):
        recipients = [recipients]
    if isinstance(recipients, QuerySet):
        if recipients.model is not User:
            raise TypeError(f"Expected a queryset of users, not of {recipients.model.__name__}.")
        return dict.fromkeys(sorted(set(recipients.values_list("pk", flat=True))))
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise TypeError(
            "recipients must be a user, an iterable or queryset of users, or a Group; "
            f"not {type(recipients).__name__}."
        )
    given: dict[int, Any] = {}
    for user in recipients:
        if not isinstance(user, User):
            raise TypeError(f"Expected users, not {type(user).__name__}.")
        if user.pk is None:
            raise Refused(_("A recipient must be a saved user."))
        given[user.pk] = user
    return dict(sorted(given.items()))


def _with_recipients(rows: list[Notification], given: dict[int, Any]) -> list[Notification]:
    """`rows`, each with its recipient's user attached where one was given, so
    that what reads them after the commit (the email's decision) reads no user
    again: notifications_stored's receivers are handed these very rows, so
    this runs before the commit."""
    for row in rows:
        user = given.get(row.recipient_id)
        if user is not None:
            row.recipient = user
    return rows


def _active_members(group_ids: list[int]) -> list[int]:
    members = User.objects.filter(is_active=True, groups__in=group_ids).values_list("pk", flat=True)
    return sorted(set(members))


def _stored_on_commit(rows: Sequence[Notification], kinds: frozenset[str] | None = None) -> None:
    """Tell the delivery channels (email, push) about stored rows, after commit.
    `kinds`: the kinds among them, when the caller knows without reading each."""
    if not rows:
        return
    if kinds is None:
        kinds = frozenset(row.kind for row in rows)

    def send() -> None:
        for receiver, error in signals.notifications_stored.send_robust(
            sender=Notification, notifications=rows, kinds=kinds
        ):
            if isinstance(error, Exception):
                logger.error("a notifications_stored receiver failed: %r", receiver, exc_info=error)

    transaction.on_commit(send, robust=True)


def _socket_delivery_on_commit(push: "Push | None", rows: list[Notification]) -> None:
    """Record, after the push (on_commit runs in order), whether the channel
    layer took the rows' event: one row per notification, not per socket."""
    if push is None:
        return

    def record() -> None:
        if not push.done:
            return
        status = Delivery.Status.SENT if push.delivered else Delivery.Status.FAILED
        deliveries.record(rows, channel=Delivery.Channel.SOCKET, status=status)

    transaction.on_commit(record, robust=True)


def _store(
    *,
    user_ids: list[int],
    content: Content,
    broadcast: Broadcast | None = None,
    everyone: bool = False,
    group_ids: Iterable[int] = (),
    target: str = "",
    kind: str = Kind.SYSTEM,
    actor=None,
    collapse_key: str = "",
    title_for: "TitleFor | None" = None,
) -> list[Notification]:
    """Insert one row per recipient in bulk and push them after commit; a
    recipient with a recent unread row of the same collapse key gets that one
    grown instead (grouping)."""
    if not user_ids:
        return []
    now = timezone.now()
    fields = asdict(content)
    grown: list[Notification] = []
    if collapse_key:
        grown = _grow(
            user_ids=user_ids,
            collapse_key=collapse_key,
            content=content,
            kind=kind,
            actor=actor,
            target=target,
            now=now,
            title_for=title_for,
        )
        if grown:
            taken = {row.recipient_id for row in grown}
            user_ids = [user_id for user_id in user_ids if user_id not in taken]
    actor_id = actor.pk if actor is not None else None
    rows = Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id,
                broadcast=broadcast,
                created_at=now,
                target=target,
                kind=kind,
                actor_id=actor_id,
                actor_ids=[actor_id] if actor_id is not None else [],
                collapse_key=collapse_key,
                **fields,
            )
            for user_id in user_ids
        ],
        batch_size=BATCH_SIZE,
    )
    if rows:
        push = events.notifications_created(
            content=frames.content_text(**fields, created_at=now, kind=kind, actor=actor, count=1),
            pairs=[(row.recipient_id, row.pk) for row in rows],
            everyone=everyone,
            group_ids=group_ids,
            broadcast_id=broadcast.pk if broadcast is not None else None,
        )
        _socket_delivery_on_commit(push, rows)
    stored = rows + grown
    _stored_on_commit(stored)
    return stored


def _insert_for_users(
    users: QuerySet, *, content: Content, broadcast: Broadcast, kind: str, now
) -> list[tuple[int, int]]:
    """Insert a row for each user of `users` in one INSERT … SELECT in the
    database (no row travels to Python and back); return the (user id,
    notification id) pairs, from RETURNING."""
    meta = Notification._meta
    # Every column as Django would write it for a row of this content (defaults
    # included), but the recipient's, which comes from the SELECT.
    template = Notification(broadcast=broadcast, created_at=now, kind=kind, **asdict(content))
    quote = connection.ops.quote_name
    key = users.model._meta.pk
    columns = [meta.get_field("recipient").column]
    selected = [f"audience.{quote(key.column)}"]
    params: list = []
    for field in meta.concrete_fields:
        if field.primary_key or field.name == "recipient":
            continue
        columns.append(field.column)
        selected.append("%s")
        params.append(field.get_db_prep_save(field.pre_save(template, add=True), connection))
    audience = users.order_by().values(key.name).distinct()
    audience_sql, audience_params = audience.query.sql_with_params()
    # Every name is Django's own (the model's table and columns); every value a
    # parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"SELECT {', '.join(selected)} FROM ({audience_sql}) audience ORDER BY {selected[0]} "
        f"RETURNING {quote(columns[0])}, {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *audience_params])
        return sorted(cursor.fetchall())


def _store_broadcast(
    *, users: QuerySet, content: Content, broadcast: Broadcast, group_ids: Iterable[int] = ()
) -> int:
    """Store a broadcast's rows for `users` (active users, or the members of
    some groups) in the database in one statement and push them as one event
    per audience group, after commit; return how many were stored."""
    now = timezone.now()
    kind = Kind.BROADCAST
    pairs = _insert_for_users(users, content=content, broadcast=broadcast, kind=kind, now=now)
    if not pairs:
        return 0
    fields = asdict(content)
    template = Notification(broadcast=broadcast, kind=kind, created_at=now, **fields)
    push = events.notifications_created(
        content=frames.content_text(**fields, created_at=now, kind=kind, actor=None, count=1),
        pairs=pairs,
        everyone=not group_ids,
        group_ids=group_ids,
        broadcast_id=broadcast.pk,
    )
    if push is not None:

        def record() -> None:
            # After the push, in the background: the caller does not wait for
            # a Delivery row per recipient.
            if push.done:
                status = Delivery.Status.SENT if push.delivered else Delivery.Status.FAILED
                tasks.broadcast_deliveries_record.enqueue(
                    broadcast.pk, Delivery.Channel.SOCKET, status
                )

        transaction.on_commit(record, robust=True)
    # What the email and push receivers read of a row, without reading it back.
    _stored_on_commit(StoredRows(template, pairs), kinds=frozenset({kind}))
    return len(pairs)


class StoredRows(Sequence[Notification]):
    """A broadcast's stored rows as model instances, each built when it is read:
    `template`'s fields with a pair's recipient and id, as Django builds a
    loaded instance's state, without Model.__init__.

    Not a list: 10,000 instances made at once stayed alive until the signal
    ran, and every other broadcast paid a full garbage collection for them
    (about 100 ms of the call); built one by one, each is gone when its reader
    moves on. Reading one twice gives two equal instances, not the same one."""

    def __init__(self, template: Notification, pairs: list[tuple[int, int]]) -> None:
        self._fields = {k: v for k, v in template.__dict__.items() if k != "_state"}
        self._pairs = pairs
        # Read once: `connection` is a proxy that looks itself up on every access.
        self._alias = connection.alias

    def __len__(self) -> int:
        return len(self._pairs)

    @overload
    def __getitem__(self, index: int) -> Notification: ...
    @overload
    def __getitem__(self, index: slice) -> list[Notification]: ...
    def __getitem__(self, index: int | slice) -> Notification | list[Notification]:
        if isinstance(index, slice):
            return [self._row(*pair) for pair in self._pairs[index]]
        return self._row(*self._pairs[index])

    def __iter__(self) -> Iterator[Notification]:
        for user_id, notification_id in self._pairs:
            yield self._row(user_id, notification_id)

    def _row(self, user_id: int, notification_id: int) -> Notification:
        row = Notification.__new__(Notification)
        row.__dict__.update(self._fields, id=notification_id, recipient_id=user_id)
        # Its own state (a cache of related objects each): loaded, not to be added.
        state = row._state = ModelState()
        state.adding = False
        state.db = self._alias
        return row


def _grown_title(title: str, actor, names: list[str], others: int) -> str:
    """ "alice and 3 others reacted to your message" from "alice reacted to your
    message": the single title starts with the newest actor's name."""
    name = actor.get_username() if actor is not None else ""
    if not name or not title.startswith(name) or others <= 0:
        return title
    if others == 1 and len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{name} and {others} other{'s' if others != 1 else ''}"
    return f"{who}{title[len(name) :]}"[:TITLE_MAX]


# A recipient's newest unread notification of a collapse key since a moment,
# locked (_unread_to_grow).
_newest_unread = Rows(
    Notification,
    ("recipient", "="),
    ("collapse_key", "="),
    ("created_at", ">="),
    null=("read_at",),
    order_by=("-id",),
    lock=True,
)
# Up to this many recipients, a statement of fixed shape each (a direct
# message, a reply or a reaction notifies one, a message's mentions a few):
# the ORM's query building cost more than the read. For more (notify() to a
# group, a message naming dozens), the ORM's one query.
GROW_ONE_BY_ONE_MAX = 20


def _unread_to_grow(user_ids: list[int], collapse_key: str, since) -> dict[int, Notification]:
    """Each recipient's newest unread notification of `collapse_key` since
    `since`, locked, by recipient (locked in recipient order, as every writer
    locks them)."""
    recipients = sorted(set(user_ids))
    if len(recipients) <= GROW_ONE_BY_ONE_MAX:
        found = run_together(*(_newest_unread.query(pk, collapse_key, since) for pk in recipients))
        return {row.recipient_id: row for row in found if row is not None}
    latest: dict[int, Notification] = {}
    for row in (
        Notification.objects.select_for_update()
        .filter(
            recipient_id__in=recipients,
            collapse_key=collapse_key,
            read_at__isnull=True,
            created_at__gte=since,
        )
        .order_by("recipient_id", "-id")
    ):
        latest.setdefault(row.recipient_id, row)
    return latest


def _grow(
    *,
    user_ids: list[int],
    collapse_key: str,
    content: Content,
    kind: str,
    actor,
    target: str,
    now,
    title_for: "TitleFor | None" = None,
) -> list[Notification]:
    """Replace each recipient's unread row of `collapse_key` from the last
    NOTIFY_GROUP_WINDOW seconds by a new row (a new id, `replaces` the old one)
    that counts one more; return the new rows. Each goes to its own recipient's
    sockets as a usual notification: their unread count does not change."""
    since = now - timedelta(seconds=settings.NOTIFY_GROUP_WINDOW)
    latest = _unread_to_grow(user_ids, collapse_key, since)
    if not latest:
        return []
    actor_id = actor.pk if actor is not None else None
    actors = {
        user_id: ([actor_id] if actor_id is not None else [])
        + [pk for pk in old.actor_ids if pk != actor_id]
        for user_id, old in latest.items()
    }
    # The newest two actors' names, for "alice and bob"; no more are ever shown.
    # The actor's own is at hand: a direct room's notification, which grows by
    # the same person's messages, reads no other.
    usernames = {actor_id: actor.get_username()} if actor_id is not None else {}
    others = {pk for actor_ids in actors.values() for pk in actor_ids[:2]} - usernames.keys()
    if others:
        usernames.update(User.objects.filter(pk__in=others).values_list("pk", "username"))
    grown = []
    for old in latest.values():
        actor_ids = actors[old.recipient_id]
        names = [usernames[pk] for pk in actor_ids[:2] if pk in usernames]
        fields = asdict(content)
        if title_for is not None and names:
            # In the active language: notify() stores each language's recipients apart.
            fields["title"] = title_for(names, len(actor_ids) - 1)[:TITLE_MAX]
        else:
            fields["title"] = _grown_title(content.title, actor, names, len(actor_ids) - 1)
        grown.append(
            Notification(
                recipient_id=old.recipient_id,
                created_at=now,
                target=target,
                kind=kind,
                actor_id=actor_id,
                actor_ids=actor_ids[:ACTORS_KEPT],
                count=old.count + 1,
                replaces=old.pk,
                collapse_key=collapse_key,
                **fields,
            )
        )
    old_ids = {user_id: old.pk for user_id, old in latest.items()}
    _notifications_delete(list(old_ids.values()))
    # One INSERT per row: each needs its id before its event, and they are few
    # (a reaction or a reply notifies one person).
    for row in grown:
        row.save(force_insert=True)
        push = events.notification_grown(
            content=frames.content_text(
                title=row.title,
                body=row.body,
                level=row.level,
                url=row.url,
                created_at=now,
                kind=kind,
                actor=actor,
                count=row.count,
                replaces=row.replaces,
            ),
            user_id=row.recipient_id,
            notification_id=row.pk,
            replaces=old_ids[row.recipient_id],
        )
        _socket_delivery_on_commit(push, [row])
    return grown


def _notifications_delete(ids: list[int]) -> None:
    """Delete the notifications `ids` and their deliveries (nothing else refers
    to a notification: a test in tests/notifications says so), in two
    statements of fixed shape, in one round trip where the database takes
    both. QuerySet.delete() reads the rows first, for a collector that finds
    nothing else to do: on a direct message's notification that grows, that
    read and its query building cost more than the deletes."""
    run_together(delete_in(Delivery, notification=ids), delete_in(Notification, id=ids))


def collapse_key_for(kind: str, target: str) -> str:
    """The default collapse key: the same kind about the same thing."""
    if not target or kind in {Kind.SYSTEM, Kind.BROADCAST}:
        return ""
    return f"{kind}:{target}"


@transaction.atomic
def notify(
    recipients,
    *,
    title: "str | TitleFor",
    body: str = "",
    level: str = "info",
    url: str = "",
    kind: str = Kind.SYSTEM,
    actor=None,
    target: str = "",
    collapse_key: str | None = None,
) -> list[Notification]:
    """Store a notification for each recipient and push it live after commit.

    `recipients`: a user, an iterable or queryset of users, or a Group (its active
    members). `kind` says what it is (models.Kind), `actor` who caused it (a
    user, never notified of their own action: left out of the recipients).
    `target` names what it is about ("chat.message:8812") for
    `notifications_withdraw_body`. A recipient's unread notification with the
    same `collapse_key` (default: kind and target; "" never groups) grows into a
    new one instead of a second one arriving. Raise Refused for content the
    contract refuses, storing nothing.

    `title` is the text, or (for what people do: notifications.titles) a
    callable rendered in each recipient's language, also when it grows.
    """
    if callable(title):
        return _notify_per_language(
            recipients,
            title_for=title,
            body=body,
            level=level,
            url=url,
            kind=kind,
            actor=actor,
            target=target,
            collapse_key=collapse_key,
        )
    content = clean_content(title=title, body=body, level=level, url=url)
    if kind not in Kind.values:
        raise Refused(_("kind must be one of %(kinds)s.") % {"kinds": ", ".join(Kind.values)})
    if collapse_key is None:
        collapse_key = collapse_key_for(kind, target)
    options = {"target": target, "kind": kind, "actor": actor, "collapse_key": collapse_key}
    if isinstance(recipients, Group):
        user_ids = _active_members([recipients.pk])
        if actor is not None and actor.pk in user_ids:
            # Without the actor the audience is no longer the whole group.
            user_ids.remove(actor.pk)
            return _store(user_ids=user_ids, content=content, **options)
        return _store(user_ids=user_ids, content=content, group_ids=[recipients.pk], **options)
    given = _recipients(recipients)
    user_ids = [user_id for user_id in given if actor is None or user_id != actor.pk]
    return _with_recipients(_store(user_ids=user_ids, content=content, **options), given)


def _notify_per_language(
    recipients,
    *,
    title_for: TitleFor,
    body: str,
    level: str,
    url: str,
    kind: str,
    actor,
    target: str,
    collapse_key: str | None,
) -> list[Notification]:
    """`notify` once per language of the recipients, the title rendered in it."""
    if actor is None:
        raise TypeError("A title rendered per recipient names its actor: pass actor=.")
    if kind not in Kind.values:
        raise Refused(_("kind must be one of %(kinds)s.") % {"kinds": ", ".join(Kind.values)})
    given = _recipients(recipients)
    user_ids = [user_id for user_id in given if user_id != actor.pk]
    by_language: dict[str, list[int]] = {}
    for user_id, language in accounts_selectors.languages(user_ids=user_ids).items():
        by_language.setdefault(language, []).append(user_id)
    stored: list[Notification] = []
    for language, ids in sorted(by_language.items()):
        with translation.override(language):
            title = title_for([actor.get_username()], 0)[:TITLE_MAX]
            content = clean_content(title=title, body=body, level=level, url=url)
            key = collapse_key_for(kind, target) if collapse_key is None else collapse_key
            rows = _store(
                user_ids=sorted(ids),
                content=content,
                target=target,
                kind=kind,
                actor=actor,
                collapse_key=key,
                title_for=title_for,
            )
            stored += _with_recipients(rows, given)
    return stored


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
    raise Refused(_("An audience is None (every active user), some groups or some users."))


@transaction.atomic
def broadcast(
    *,
    title: str,
    body: str = "",
    level: str = "info",
    url: str = "",
    audience=None,
    created_by=None,
    critical: bool = False,
) -> Broadcast:
    """Record a Broadcast and send it: `audience` None is every active user, else
    some groups or some users. A `critical` one is pushed even in quiet hours
    and to those who switched announcements off."""
    content = clean_content(title=title, body=body, level=level, url=url)
    kind, groups, users = _audience(audience)
    record = Broadcast.objects.create(
        **asdict(content), audience=kind, created_by=created_by, critical=critical
    )
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
        sent = _store_broadcast(
            users=User.objects.filter(is_active=True), content=content, broadcast=locked
        )
    elif locked.audience == Broadcast.Audience.GROUPS:
        group_ids = sorted(locked.groups.values_list("pk", flat=True))
        sent = _store_broadcast(
            users=User.objects.filter(is_active=True, groups__in=group_ids),
            content=content,
            broadcast=locked,
            group_ids=group_ids,
        )
    else:
        user_ids = sorted(locked.users.filter(is_active=True).values_list("pk", flat=True))
        sent = len(
            _store(user_ids=user_ids, content=content, broadcast=locked, kind=Kind.BROADCAST)
        )
    locked.sent_at = timezone.now()
    locked.recipient_count = sent
    locked.save(update_fields=["sent_at", "recipient_count"])
    broadcast.sent_at, broadcast.recipient_count = locked.sent_at, locked.recipient_count
    here(metrics.broadcasts_sent).inc()
    logger.info(
        "broadcast sent",
        extra={"event": "broadcast", "broadcast_id": locked.pk, "recipients": sent},
    )
    return sent


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
def notifications_mark_read_in_room(*, user, room: "Room", seq: int) -> list[int]:
    """Mark read the user's notifications about messages of `room` up to `seq`
    (the user read the room that far); return their ids. Every socket of the
    user hears the new count."""
    unread = Notification.objects.filter(
        recipient=user, read_at__isnull=True, target__startswith=MESSAGE_TARGET
    ).values_list("pk", "target")
    by_message: dict[int, list[int]] = {}
    for pk, target in unread:
        message_id = target_id(target, MESSAGE_TARGET)
        if message_id is not None:
            by_message.setdefault(message_id, []).append(pk)
    if not by_message:
        return []
    read_messages = Message.objects.filter(
        pk__in=by_message.keys(), room=room, seq__lte=seq
    ).values_list("pk", flat=True)
    ids = sorted(pk for message_id in read_messages for pk in by_message[message_id])
    if not ids:
        return []
    updated = Notification.objects.filter(pk__in=ids, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if updated:
        state = selectors.unread_state(user=user)
        events.unread_changed(user_id=user.pk, count=state.count, last_id=state.last_id, read=ids)
    return ids


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
    "notifications_mark_read_in_room",
    "notify",
]
