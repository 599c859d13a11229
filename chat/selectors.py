"""Every read of chat data, and every rule of who may see what."""

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from realtime.db import Query, Rows, quoted, run, run_together, select_in
from realtime.errors import NotFound

from .exceptions import MessageNotFound, RoomBanned, RoomForbidden, RoomNotFound
from .models import Attachment, Membership, Message, Reaction, Room, RoomBan, RoomEvent
from .signals import read_positions_hidden

if TYPE_CHECKING:
    # The model get_user_model() returns (AUTH_USER_MODEL is Django's own).
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

HELLO_LATEST = 50
RESUME_MAX = 500
HISTORY_MAX = 100
# Unread counts past this show as "999+": a count never walks further.
UNREAD_SHOWN_MAX = 999
# A user's own stream follows the activity of this many of their rooms (the
# busiest, by seq): each is one channel-layer group it joins.
ACTIVITY_ROOMS_MAX = 500
# Rooms of at most this many members show who has read their newest message.
READ_RECEIPTS_MEMBERS_MAX = 50


def is_member(*, room: Room, user: "User") -> bool:
    return Membership.objects.filter(room=room, user=user).exists()


def is_member_by_id(*, room_id: int, user_id: int) -> bool:
    return Membership.objects.filter(room_id=room_id, user_id=user_id).exists()


def member_ids(*, room_id: int) -> list[int]:
    """Return the sorted ids of a room's members."""
    return sorted(Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True))


# Every socket's connect, room page and `history` page reads its room by slug.
_rooms_by_slug = Rows(Room, ("slug", "="))


def room_for_reader(*, slug: str, user: "User") -> Room:
    """Return the room if `user` may read it: public, or private with membership.

    Raise RoomNotFound or RoomForbidden.
    """
    # The room and the ban together: one round trip on PostgreSQL, for every
    # socket's connect.
    room, banned = run_together(_rooms_by_slug.query(slug), _banned_by_slug(slug, user.pk))
    if room is None:
        raise RoomNotFound()
    if not room.is_public and not is_member(room=room, user=user):
        raise RoomForbidden()
    if banned:
        raise RoomBanned()
    return room


_BANNED_BY_SLUG_SQL = (
    f"SELECT 1 FROM {RoomBan._meta.db_table} b JOIN {Room._meta.db_table} r"  # noqa: S608
    " ON r.id = b.room_id WHERE r.slug = %s AND b.user_id = %s LIMIT 1"
)


def _banned_by_slug(slug: str, user_id: int) -> Query[bool]:
    return Query(_BANNED_BY_SLUG_SQL, [slug, user_id], bool)


_LAST_SEQ_SQL = f"SELECT last_seq FROM {Room._meta.db_table} WHERE id = %s"  # noqa: S608


def room_last_seq(*, room_id: int) -> int:
    """Return the room's newest seq, read now (plain SQL: every hello reads it).

    Raise Room.DoesNotExist when the room is gone.
    """
    return run(_last_seq(room_id))


def room_last_seq_and_read_positions(*, room_id: int) -> "tuple[int, list[ReadPosition] | None]":
    """room_last_seq and read_positions, read together: one round trip on
    PostgreSQL, for every socket's hello."""
    last_seq, rows = run_together(_last_seq(room_id), _read_positions_rows(room_id))
    return last_seq, _shared_read_positions(rows)


def _last_seq(room_id: int) -> Query[int]:
    def read(rows: list[tuple]) -> int:
        if not rows:
            raise Room.DoesNotExist()
        return rows[0][0]

    return Query(_LAST_SEQ_SQL, [room_id], read)


_BANNED_SQL = f"SELECT 1 FROM {RoomBan._meta.db_table} WHERE room_id = %s AND user_id = %s LIMIT 1"  # noqa: S608


def is_banned(*, room_id: int, user_id: int) -> bool:
    """Return whether the user is banned from the room.

    Plain SQL on the (room, user) unique index (room_for_reader reads it with
    the room, by slug): the ORM's query building costs far more than the
    query (CPU per call on SQLite, best of 5 x 1000: a filtered `exists()`
    about 230 us, an `Exists` annotation on the room's query about 440 us
    more, this about 20 us; `Room.objects.get` itself about 210 us).
    """
    with connection.cursor() as cursor:
        cursor.execute(_BANNED_SQL, [room_id, user_id])
        return cursor.fetchone() is not None


def room_for_owner(*, slug: str, user: "User") -> Room:
    """Return a private room `user` owns; raise RoomNotFound or RoomForbidden."""
    room = room_for_reader(slug=slug, user=user)
    if (
        room.kind != Room.Kind.PRIVATE
        or not Membership.objects.filter(room=room, user=user, role=Membership.Role.OWNER).exists()
    ):
        raise RoomForbidden()
    return room


def direct_room(*, user: "User", other: "User") -> Room | None:
    """Return the direct room of two people, found by the pair alone: its slug is
    an address anyone could have chosen, never its identity."""
    low, high = sorted([user.pk, other.pk])
    return Room.objects.filter(
        kind=Room.Kind.DIRECT, direct_low_id=low, direct_high_id=high
    ).first()


def lost_access(*, room_id: int, user_id: int) -> bool:
    """Return whether a user whose membership was deleted can no longer read the room.

    False when the room is public, the membership is back, or the room or the
    user is gone: deleting those closes the sockets by itself (chat.receivers,
    realtime.receivers).
    """
    return (
        Room.objects.filter(pk=room_id)
        .exclude(kind=Room.Kind.PUBLIC)
        .exclude(memberships__user_id=user_id)
        .exists()
        and get_user_model().objects.filter(pk=user_id).exists()
    )


def readers_if_members_only(*, room_id: int) -> list[int] | None:
    """Return the sorted ids of the members of a room only members may read; None
    when the room is public or gone."""
    kind = Room.objects.filter(pk=room_id).values_list("kind", flat=True).first()
    if kind is None or kind == Room.Kind.PUBLIC:
        return None
    return sorted(Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True))


@dataclass
class RoomSummary:
    room: Room
    display_name: str
    unread: int  # messages after read_seq
    last_message: Message | None
    joined: bool
    read_seq: int


def rooms_for_user(*, user: "User") -> list[RoomSummary]:
    """Return the rooms `user` belongs to, most recently active first, with unread counts."""
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("room")
        .annotate(unread_messages=_unread_messages())
    )
    rooms = [m.room for m in memberships]
    last_messages = _last_messages(rooms)
    peers = _direct_peers(rooms, user)
    summaries = [
        RoomSummary(
            room=m.room,
            display_name=peers.get(m.room.pk, m.room.name),
            unread=m.unread_messages,
            last_message=last_messages.get(m.room.pk),
            joined=True,
            read_seq=m.last_read_seq,
        )
        for m in memberships
    ]
    summaries.sort(key=lambda s: s.display_name.lower())
    summaries.sort(
        key=lambda s: s.last_message.created_at if s.last_message else s.room.created_at,
        reverse=True,
    )
    return summaries


def _unread_messages() -> Coalesce:
    """The messages after a membership's read position: messages, not seqs (edits
    and reactions take seqs too), and never a deleted one; one range of the
    (room, seq) index each."""
    count = (
        Message.objects.filter(
            room_id=OuterRef("room_id"),
            seq__gt=OuterRef("last_read_seq"),
            deleted_at__isnull=True,
        )
        .order_by()
        .values("room_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)


def activity_room_ids(*, user: "User") -> list[int]:
    """Return the rooms whose activity the user's own stream follows: their
    rooms (every one they can read), the busiest first. One statement written
    once: it is read on every notifications socket's hello."""
    with connection.cursor() as cursor:
        cursor.execute(_activity_room_ids_sql(), [user.pk, ACTIVITY_ROOMS_MAX])
        return [room_id for (room_id,) in cursor.fetchall()]


@functools.cache
def _activity_room_ids_sql() -> str:
    memberships, room_id, user_id = quoted(Membership, "room", "user")
    rooms, room_pk, last_seq = quoted(Room, "id", "last_seq")
    return (
        f"SELECT m.{room_id} FROM {memberships} m JOIN {rooms} r ON r.{room_pk} = m.{room_id}"  # noqa: S608
        f" WHERE m.{user_id} = %s ORDER BY r.{last_seq} DESC, m.{room_id} DESC LIMIT %s"
    )


@dataclass(frozen=True)
class ReadState:
    """How far a member has read, and how many messages are left, as of `through_seq`."""

    room_slug: str
    read_seq: int
    unread: int  # at most UNREAD_SHOWN_MAX + 1
    through_seq: int


def read_state(*, room_id: int, user_id: int) -> ReadState | None:
    """Return the member's read state in the room; None for a non-member."""
    row = (
        Membership.objects.filter(room_id=room_id, user_id=user_id)
        .values_list("room__slug", "last_read_seq", "room__last_seq")
        .first()
    )
    if row is None:
        return None
    slug, read_seq, through_seq = row
    unread = (
        Message.objects.filter(
            room_id=room_id, seq__gt=read_seq, seq__lte=through_seq, deleted_at__isnull=True
        )
        .order_by()[: UNREAD_SHOWN_MAX + 1]
        .count()
    )
    return ReadState(slug, read_seq, unread, through_seq)


def public_rooms_to_join(*, user: "User") -> QuerySet[Room]:
    return (
        Room.objects.filter(kind=Room.Kind.PUBLIC)
        .exclude(memberships__user=user)
        .exclude(bans__user=user)  # a room they are banned from is not theirs to join
    )


def _last_messages(rooms: list[Room]) -> dict[int, Message]:
    """Return each room's newest message that is not deleted (the room's last seq
    may be an edit's)."""
    if not rooms:
        return {}
    newest = (
        Message.objects.filter(
            room__in=[room for room in rooms if room.last_seq], deleted_at__isnull=True
        )
        .values("room_id")
        .annotate(seq=Max("seq"))
    )
    wanted = Q()
    for row in newest:
        wanted |= Q(room_id=row["room_id"], seq=row["seq"])
    if not wanted:
        return {}
    return {m.room_id: m for m in Message.objects.filter(wanted).select_related("author")}


def _direct_peers(rooms: list[Room], user: "User") -> dict[int, str]:
    """Name each direct room after the other person in it."""
    direct = [r.pk for r in rooms if r.kind == Room.Kind.DIRECT]
    if not direct:
        return {}
    rows = Membership.objects.filter(room_id__in=direct).exclude(user=user)
    return {row.room_id: f"@{row.user.username}" for row in rows.select_related("user")}


def room_display_names(*, rooms: list[Room], user: "User") -> dict[int, str]:
    """Name each room as `user` sees it (a direct room after the other person)."""
    peers = _direct_peers(rooms, user)
    return {room.pk: peers.get(room.pk, room.name) for room in rooms}


def room_display_name(*, room: Room, user: "User") -> str:
    if room.kind == Room.Kind.DIRECT:
        return _direct_peers([room], user).get(room.pk, room.name)
    return room.name


@dataclass(frozen=True)
class ListedMember:
    """A member as the room page's members panel lists them."""

    user_id: int
    username: str
    is_owner: bool


def room_members(*, room: Room) -> list[ListedMember]:
    """A room's members in the panel's order, read as values, not as model
    instances: a large room lists thousands, and the instances (a membership and
    its user each) were a fifth of the page's CPU with 1,000 members
    (bench/README.md, "Pages")."""
    rows = room.memberships.order_by("user__username").values_list(
        "user_id", "user__username", "role"
    )
    return [
        ListedMember(user_id=user_id, username=username, is_owner=role == Membership.Role.OWNER)
        for user_id, username, role in rows
    ]


def first_member_ids(*, room_id: int, limit: int) -> list[int]:
    """Return the ids of a room's first `limit` members, in the members panel's order.

    "Online anywhere" (chat.consumers.MembersOnline) asks this for every room
    with sockets open, every few seconds: one statement written once, where the
    ORM's query was most of an idle worker's busy samples (py-spy, 2,000 idle
    sockets in 200 rooms).
    """
    with connection.cursor() as cursor:
        cursor.execute(_first_member_ids_sql(), [room_id, limit])
        return [user_id for (user_id,) in cursor.fetchall()]


@functools.cache
def _first_member_ids_sql() -> str:
    names = _members_with_users()
    return (
        f"SELECT m.{names.user} {names.joined}"
        f" WHERE m.{names.room} = %s ORDER BY u.{names.username} LIMIT %s"
    )


# Rooms per statement of first_member_ids_of_rooms (SQLite takes a parameter each).
ROOMS_PER_LOOKUP = 500


def first_member_ids_of_rooms(*, room_ids: list[int], limit: int) -> dict[int, list[int]]:
    """first_member_ids for several rooms, in one statement per ROOMS_PER_LOOKUP
    rooms: room id -> its first `limit` members' ids, in the members panel's
    order (a room without members is left out).

    A worker looks again for every room it has sockets in together
    (chat.consumers.MembersOnline): one statement for them all instead of a
    database call per room, each of which, coming alone every few hundred
    milliseconds, cost more than a millisecond of CPU."""
    found: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(room_ids), ROOMS_PER_LOOKUP):
            chunk = room_ids[start : start + ROOMS_PER_LOOKUP]
            if connection.vendor == "postgresql":
                # One array parameter: the same statement for any number of rooms.
                cursor.execute(_first_member_ids_of_rooms_sql(None), [list(chunk), limit])
            else:
                cursor.execute(_first_member_ids_of_rooms_sql(len(chunk)), [*chunk, limit])
            for room_id, user_id in cursor.fetchall():
                found.setdefault(room_id, []).append(user_id)
    return found


@functools.lru_cache(maxsize=8)
def _first_member_ids_of_rooms_sql(rooms: int | None) -> str:
    names = _members_with_users()
    where = (
        f"m.{names.room} = ANY(%s)"
        if rooms is None
        else f"m.{names.room} IN ({', '.join(['%s'] * rooms)})"
    )
    # Each room's members numbered in the panel's order, the first `limit` kept.
    # The names are the models' own, quoted; the values are parameters.
    return (
        f"SELECT room_id, user_id FROM (SELECT m.{names.room} AS room_id,"  # noqa: S608
        f" m.{names.user} AS user_id, ROW_NUMBER() OVER"
        f" (PARTITION BY m.{names.room} ORDER BY u.{names.username}) AS position"
        f" {names.joined} WHERE {where}) AS numbered"
        " WHERE position <= %s ORDER BY room_id, position"
    )


@dataclass(frozen=True)
class _MemberNames:
    """Quoted names for statements over a room's memberships (m) joined to their users (u)."""

    joined: str  # the FROM clause
    user: str
    room: str
    last_read: str
    username: str


@functools.cache
def _members_with_users() -> _MemberNames:
    memberships, user, room, last_read = quoted(Membership, "user", "room", "last_read_seq")
    User = get_user_model()
    users, user_pk, username = quoted(User, "id", User.USERNAME_FIELD)
    # The names are the models' own, quoted; the values go as parameters.
    joined = f"FROM {memberships} m JOIN {users} u ON u.{user_pk} = m.{user}"
    return _MemberNames(joined, user, room, last_read, username)


def membership(*, room: Room, user: "User") -> Membership | None:
    try:
        return Membership.objects.get(room=room, user=user)
    except Membership.DoesNotExist:
        return None


def _joined(messages: QuerySet[Message]) -> QuerySet[Message]:
    """`messages` with what their state shows of other rows read in the same
    query: their authors, the replied-to message and its author. The rest
    comes with `with_state`."""
    return messages.select_related("author", "reply_to__author")


def _messages(room: Room) -> QuerySet[Message]:
    return _joined(Message.objects.filter(room=room))


# Every field of a reaction and an attachment: what a message's state and its
# row on the room's page show of them, and nothing deferred to read later.
_REACTION_FIELDS = tuple(field.name for field in Reaction._meta.concrete_fields)
_ATTACHMENT_FIELDS = tuple(field.name for field in Attachment._meta.concrete_fields)


def with_state(messages: Iterable[Message]) -> list[Message]:
    """Return `messages` (read through `_joined`) with their reactions and
    attachments, each in id order, in each message's prefetch cache, where
    `message.reactions.all()` finds them: what their state shows
    (chat.frames.message_dict, chat/_message.html).

    Not Django's prefetch_related: it builds a queryset with its own filter for
    each message and each relation (100 for the 50 messages of a room's page or
    hello, which with its queries was a seventh of the page's CPU), and orders
    reactions by their model's ordering, which joins every reaction to its
    message and room. Here both are read by statements written once, in one
    round trip on PostgreSQL (realtime.db.select_in)."""
    messages = list(messages)
    if not messages:
        return messages
    ids = [message.pk for message in messages]
    reactions: dict[int, list[Reaction]] = {pk: [] for pk in ids}
    attachments: dict[int, list[Attachment]] = {pk: [] for pk in ids}
    found_reactions, found_attachments = run_together(
        select_in(Reaction, _REACTION_FIELDS, message=ids),
        select_in(Attachment, _ATTACHMENT_FIELDS, message=ids),
    )
    for reaction in sorted(found_reactions, key=attrgetter("pk")):
        reactions[reaction.message_id].append(reaction)
    for attachment in sorted(found_attachments, key=attrgetter("pk")):
        attachments[attachment.message_id].append(attachment)
    for message in messages:
        message._prefetched_objects_cache = {  # type: ignore[attr-defined]
            "reactions": reactions[message.pk],
            "attachments": attachments[message.pk],
        }
    return messages


def message_state(*, message_id: int) -> Message:
    """Return a message with its whole state, freshly read."""
    messages = with_state(_joined(Message.objects.filter(pk=message_id)))
    if not messages:
        raise Message.DoesNotExist()
    return messages[0]


def message_in_room(*, room: Room, message_id: int) -> Message:
    """Return a message of `room` that is not deleted; raise MessageNotFound
    (another room's message too: its id says nothing here)."""
    try:
        return Message.objects.select_related("author").get(
            room=room, pk=message_id, deleted_at__isnull=True
        )
    except Message.DoesNotExist:
        raise MessageNotFound() from None


def moderates_messages(user: "User") -> bool:
    """Return whether `user` is staff who may delete any message: the permission
    chat.delete_message, or chat.moderate_room (which resolves reports)."""
    return user.has_perm("chat.delete_message") or user.has_perm("chat.moderate_room")


def may_delete(*, room: Room, message: Message, user: "User") -> bool:
    """Return whether `user` may delete `message`: its author, the room's owner,
    or a moderator (the permission chat.delete_message)."""
    return (
        message.author_id == user.pk
        or moderates_messages(user)
        or Membership.objects.filter(room=room, user=user, role=Membership.Role.OWNER).exists()
    )


def mentionable_users(names: set[str]) -> list[tuple[int, str]]:
    """Return (id, username) of the active users with one of `names` (any case)."""
    wanted = Q()
    for name in names:
        wanted |= Q(username__iexact=name)
    return list(
        get_user_model().objects.filter(wanted, is_active=True).values_list("pk", "username")
    )


@dataclass(frozen=True)
class EventPage:
    events: list[RoomEvent]  # oldest first
    more: bool  # catch_up: newer ones follow; resume: older ones were left out


def events_after(*, room: Room, after: int, limit: int = RESUME_MAX) -> EventPage:
    """Return the oldest `limit` room events with seq > after."""
    page = list(
        RoomEvent.objects.filter(room=room, seq__gt=after)
        .order_by("seq")
        .only("seq", "kind", "message_id", "text")[: limit + 1]
    )
    return EventPage(page[:limit], more=len(page) > limit)


def updates_for_resume(*, room: Room, after: int, through_seq: int) -> EventPage:
    """Return the stored `update` frames a client resuming after `after` needs
    beside the new messages in hello: the events up to `through_seq` that
    changed a message it already has (seq <= after), the latest RESUME_MAX."""
    query = RoomEvent.objects.filter(
        room=room, seq__gt=after, seq__lte=through_seq, message__seq__lte=after
    ).exclude(kind=RoomEvent.Kind.MESSAGE)
    newest = list(query.order_by("-seq").only("seq", "text")[: RESUME_MAX + 1])
    return EventPage(list(reversed(newest[:RESUME_MAX])), more=len(newest) > RESUME_MAX)


def messages_latest(
    *, room: Room, limit: int = HELLO_LATEST, through_seq: int | None = None
) -> list[Message]:
    """Return the latest `limit` messages (up to through_seq), oldest first."""
    query = _messages(room)
    if through_seq is not None:
        query = query.filter(seq__lte=through_seq)
    return with_state(reversed(query.order_by("-seq")[:limit]))


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]  # oldest first
    # messages_after: the oldest were left out (over RESUME_MAX);
    # messages_before: older messages remain.
    more: bool


def messages_after(*, room: Room, after: int, through_seq: int | None = None) -> MessagePage:
    """Return the messages with seq > after (up to through_seq), at most the
    latest RESUME_MAX."""
    query = _messages(room).filter(seq__gt=after)
    if through_seq is not None:
        query = query.filter(seq__lte=through_seq)
    newest = list(query.order_by("-seq")[: RESUME_MAX + 1])
    truncated = len(newest) > RESUME_MAX
    return MessagePage(with_state(reversed(newest[:RESUME_MAX])), more=truncated)


def messages_before(*, room: Room, before_seq: int | None, limit: int) -> MessagePage:
    """Return up to `limit` messages with seq < before_seq."""
    query = _messages(room)
    if before_seq is not None:
        query = query.filter(seq__lt=before_seq)
    page = list(query.order_by("-seq")[: limit + 1])
    return MessagePage(with_state(reversed(page[:limit])), more=len(page) > limit)


def messages_around(*, room: Room, seq: int, limit: int = HELLO_LATEST) -> MessagePage:
    """Return up to `limit` messages around `seq` (a link to a message): half
    up to and including it, the rest after it; `more` when older ones remain."""
    older = messages_before(room=room, before_seq=seq + 1, limit=limit // 2)
    newer = with_state(
        _messages(room).filter(seq__gt=seq).order_by("seq")[: limit - len(older.messages)]
    )
    return MessagePage(older.messages + newer, more=older.more)


def user_by_username(username: str) -> "User | None":
    return (
        get_user_model()
        .objects.filter(username__iexact=username.strip().lstrip("@"), is_active=True)
        .first()
    )


def _hidden_read_positions(user_ids: Iterable[int]) -> set[int]:
    """Return the users among `user_ids` who keep their read position to themselves."""
    user_ids = set(user_ids)
    hidden: set[int] = set()
    for receiver, answer in read_positions_hidden.send_robust(sender=Membership, user_ids=user_ids):
        if isinstance(answer, Exception):
            # Nobody's position is shown rather than one that should not be.
            logger.error("read_positions_hidden receiver %r failed", receiver, exc_info=answer)
            return user_ids
        hidden |= answer
    return hidden


def _small(room_id: int) -> bool:
    members = Membership.objects.filter(room_id=room_id)[: READ_RECEIPTS_MEMBERS_MAX + 1]
    return members.count() <= READ_RECEIPTS_MEMBERS_MAX


@dataclass(frozen=True)
class ReadPosition:
    """How far a member has read, as "Seen by" shows it."""

    user_id: int
    username: str
    seq: int


def read_positions(*, room_id: int) -> list[ReadPosition] | None:
    """Return the read positions of those who share how far they have read, in
    a room of at most READ_RECEIPTS_MEMBERS_MAX members; None for a larger one.

    Every socket's hello asks this. One statement written once, three columns
    a member, instead of each membership and its whole user through the ORM:
    a quarter of a worker's CPU (py-spy) in a join of 1,000 users to a room of
    25 members.
    """
    return _shared_read_positions(run(_read_positions_rows(room_id)))


def _read_positions_rows(room_id: int) -> Query[list[tuple]]:
    return Query(_read_positions_sql(), [room_id, READ_RECEIPTS_MEMBERS_MAX + 1], list)


def _shared_read_positions(rows: list[tuple]) -> list[ReadPosition] | None:
    if len(rows) > READ_RECEIPTS_MEMBERS_MAX:
        return None
    if not rows:
        return []
    hidden = _hidden_read_positions(user_id for user_id, _, _ in rows)
    return [ReadPosition(*row) for row in rows if row[0] not in hidden]


@functools.cache
def _read_positions_sql() -> str:
    names = _members_with_users()
    return (
        f"SELECT m.{names.user}, u.{names.username}, m.{names.last_read} {names.joined}"
        f" WHERE m.{names.room} = %s ORDER BY m.{names.user} LIMIT %s"
    )


def shares_read_position(*, room_id: int, user_id: int) -> bool:
    """Return whether the room shows this member's read position to the others."""
    return _small(room_id) and user_id not in _hidden_read_positions([user_id])


def may_read_room(*, room: Room, user: "User") -> bool:
    """Return whether `user` may read `room` now: public, or a member."""
    return room.is_public or is_member(room=room, user=user)


def attachment_for_reader(*, attachment_id: int, user: "User") -> Attachment:
    """Return an attachment `user` may download now, checked afresh each time: a
    pending upload its uploader only; a sent one whoever may read its room now,
    while its message is not deleted. Raise NotFound otherwise (nothing about a
    file someone may not read is revealed)."""
    try:
        attachment = Attachment.objects.select_related("room", "message").get(pk=attachment_id)
    except Attachment.DoesNotExist:
        raise NotFound("No such file.") from None
    if attachment.message is None:
        allowed = attachment.uploader_id == user.pk
    else:
        allowed = not attachment.message.deleted and may_read_room(room=attachment.room, user=user)
    if not allowed:
        raise NotFound("No such file.")
    return attachment
