"""Every write to chat data. Each runs in one transaction and pushes only after commit."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import emoji as emoji_data
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Q
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from realtime.db import (
    Query,
    Trips,
    insert,
    new_ids,
    select_in,
    set_values,
    transaction_in_trips,
)
from realtime.errors import Refused
from realtime.metrics import here

from . import (
    attachments,
    events,
    frames,
    metrics,
    moderation_selectors,
    rendering,
    selectors,
    slugs,
)
from .exceptions import MessageForbidden, RoomBanned, RoomForbidden, RoomNotFound
from .models import Attachment, Membership, Message, MessageEdit, Reaction, Room, RoomEvent
from .signals import message_deleted, message_edited, message_posted, reaction_added, room_read

if TYPE_CHECKING:
    from datetime import datetime

    from realtime.push import Push

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)


def validate_body(body, *, allow_empty: bool = False) -> str:
    """Return the trimmed body, or raise Refused as the contract says (empty only
    with `allow_empty`: a message with attachments)."""
    if allow_empty and body is None:
        body = ""
    if not isinstance(body, str):
        raise Refused(gettext("body must be a string."))
    body = body.strip()
    if not body and not allow_empty:
        raise Refused(gettext("body must not be empty."))
    if len(body) > settings.CHAT_MAX_BODY_CHARS:
        raise Refused(
            gettext("body is over %(max)s characters.") % {"max": settings.CHAT_MAX_BODY_CHARS},
            code="too_large",
        )
    return body


def validate_client_id(client_id) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
        raise Refused(gettext("client_id must be a string of 1 to 64 characters."))
    return client_id


def validate_emoji(value) -> str:
    """Return `value` if it is one emoji, or raise Refused.

    One emoji is what Unicode lists as one (emoji-test.txt, through the pinned
    `emoji` package): a single character, or a sequence such as a skin tone, a
    flag, a keycap or a family joined with ZWJ; nothing else, so a reaction can
    never carry text.
    """
    if not isinstance(value, str) or not value:
        raise Refused(gettext("emoji must be one emoji."))
    if len(value.encode()) > settings.CHAT_EMOJI_MAX_BYTES:
        raise Refused(
            gettext("emoji is over %(max)s bytes of UTF-8.")
            % {"max": settings.CHAT_EMOJI_MAX_BYTES}
        )
    if not emoji_data.is_emoji(value):
        raise Refused(gettext("emoji must be one emoji."))
    return value


def _render(body: str) -> str:
    return rendering.render_with_lookup(body, selectors.mentionable_users)


@dataclass(frozen=True)
class MessageStored:
    """A send's outcome: the message (the original for a resend), whether this
    call created it, and its push to the room (None for a resend)."""

    message: Message
    created: bool
    push: "Push | None"

    @property
    def reached_room(self) -> bool:
        """Whether the room's sockets, the sender's included, hear it live."""
        return self.push is not None and self.push.delivered


@dataclass(frozen=True)
class EventStored:
    """An edit's, deletion's or reaction's outcome: the stored event (None when
    the change changed nothing: nothing is stored or sent) and its push."""

    event: RoomEvent | None
    push: "Push | None"

    @property
    def reached_room(self) -> bool:
        """Whether the room's sockets, the actor's included, hear it live."""
        return self.push is not None and self.push.delivered


NOTHING_CHANGED = EventStored(None, None)


def _lock_room(room: Room) -> Room:
    """Lock the room row: it orders every event of the room, so seq has no gaps."""
    try:
        return Room.objects.select_for_update().get(pk=room.pk)
    except Room.DoesNotExist:
        raise RoomNotFound() from None  # deleted while its sockets were open


def rooms_lock(*, room_ids: set[int]) -> None:
    """Lock several rooms' rows for the transaction, in id order: two
    transactions locking overlapping rooms this way never wait on each other in
    a circle. (SQLite's immediate transactions lock the whole database.)"""
    locked = Room.objects.select_for_update().filter(pk__in=room_ids).order_by("pk")
    list(locked.values_list("pk", flat=True))


def _check_reader(room: Room, user) -> None:
    if not room.is_public and selectors.membership(room=room, user=user) is None:
        raise RoomForbidden()


def _store_event(locked: Room, kind: str, message: Message) -> RoomEvent:
    """Give a change of `message` the room's next seq and store its frame as it goes out."""
    locked.last_seq += 1
    locked.save(update_fields=["last_seq"])
    if kind != RoomEvent.Kind.MESSAGE:
        message = selectors.message_state(message_id=message.pk)
    text = frames.event_frame_text(locked.last_seq, kind, message, locked.slug)
    return RoomEvent.objects.create(
        room=locked, seq=locked.last_seq, kind=kind, message=message, text=text
    )


def _send_on_commit(signal: Signal, **kwargs: Any) -> None:
    # send_robust: a failing receiver (another app) must not fail a stored change.
    transaction.on_commit(
        lambda: _log_receiver_errors(signal.send_robust(sender=Message, **kwargs))
    )


@transaction.atomic
def message_create(
    *,
    room: Room,
    author,
    body: str,
    client_id: str,
    reply_to: int | None = None,
    attachment_ids: list[int] | None = None,
) -> MessageStored:
    """Store a message and give it the room's next seq.

    A resend with the same client_id returns the original, unchanged. Posting in a
    public room joins it; a private room needs membership. `reply_to` is the id
    of a message of the same room that is not deleted (else MessageNotFound).
    `attachment_ids` are the author's pending uploads to this room, bound to the
    message here (chat.attachments.bind); with one, the body may be empty.

    The sockets' sends are stored in batches by `messages_create`, with the
    same rules; this stores one alone (a batch the database failed, one by
    one). A rule added here belongs there too.
    """
    attachment_ids = attachments.validate_ids(attachment_ids)
    body = validate_body(body, allow_empty=bool(attachment_ids))
    client_id = validate_client_id(client_id)
    # The room row's lock orders every send to this room: seq has no gaps and
    # the client_id check below can't race another send.
    locked = _lock_room(room)
    # get(), not first(): first() adds ORDER BY, and with LIMIT 1 the planner
    # may walk the room's whole (room, seq) index instead of the unique one.
    try:
        existing = Message.objects.select_related("author", "room").get(
            room=locked, author=author, client_id=client_id
        )
        return MessageStored(existing, created=False, push=None)
    except Message.DoesNotExist:
        pass
    membership = selectors.membership(room=locked, user=author)
    # Moderation: a ban, a block in a direct room, slow mode.
    moderation_selectors.check_send(room=locked, author=author, membership=membership)
    if membership is None:
        if not locked.is_public:
            raise RoomForbidden()
        membership = Membership.objects.create(room=locked, user=author)
    replied = (
        None if reply_to is None else selectors.message_in_room(room=locked, message_id=reply_to)
    )

    message = Message(
        room=locked,
        seq=locked.last_seq + 1,
        author=author,
        body=body,
        html=_render(body),
        client_id=client_id,
        reply_to=replied,
    )
    message.save()
    attachments.bind(message=message, author=author, room=locked, ids=attachment_ids)
    event = _store_event(locked, RoomEvent.Kind.MESSAGE, message)
    # Your own message is read.
    Membership.objects.filter(pk=membership.pk).update(last_read_seq=locked.last_seq)
    here(metrics.messages_stored).inc()
    push = events.room_event(event)
    _send_on_commit(message_posted, message=message)
    return MessageStored(message, created=True, push=push)


@dataclass(frozen=True)
class NewMessage:
    """One send of a batch (messages_create): message_create's arguments."""

    room: Room
    author: Any
    body: Any
    client_id: Any
    reply_to: int | None = None
    attachment_ids: Any = None


@dataclass
class _Pending:
    send: NewMessage
    body: str
    client_id: str
    html: str
    attachment_ids: list[int]


def messages_create(sends: "list[NewMessage]") -> "list[MessageStored | Exception]":
    """Store many sends as message_create stores each, in one transaction
    (chat.writer: group commit), with a few queries for them all.

    The same rules, in the same order, for each send: validated (a refusal is
    its outcome and stores nothing), a resend with the same client_id (also one
    earlier in `sends`) gets the original, posting joins a public room, a
    private one needs membership, `reply_to` must be a live message of the
    room. The rooms are locked in id order, then every new message gets its
    room's next seq, its room event, and the author's read mark; rows are
    inserted in bulk. Pushes and message_posted go out after commit. A database
    error fails the whole call: nothing of it is stored.
    """
    outcomes: list[MessageStored | Exception | None] = [None] * len(sends)
    pending: dict[int, _Pending] = {}
    for index, send in enumerate(sends):
        try:
            attachment_ids = attachments.validate_ids(send.attachment_ids)
            body = validate_body(send.body, allow_empty=bool(attachment_ids))
            client_id = validate_client_id(send.client_id)
        except Refused as error:
            outcomes[index] = error
            continue
        pending[index] = _Pending(send, body, client_id, html="", attachment_ids=attachment_ids)
    if not pending:
        return [o for o in outcomes if o is not None]  # every one refused
    # Markdown before the transaction and its locks: it reads only users.
    for item in pending.values():
        item.html = _render(item.body)
    with transaction_in_trips() as trips:
        _messages_store(trips, pending, outcomes)
    answered = [o for o in outcomes if o is not None]
    if len(answered) != len(sends):
        raise RuntimeError("a send of the batch was left without an outcome")
    return answered


def _messages_store(
    trips: Trips,
    pending: "dict[int, _Pending]",
    outcomes: "list[MessageStored | Exception | None]",
) -> None:
    room_ids = sorted({item.send.room.pk for item in pending.values()})
    author_ids = sorted({item.send.author.pk for item in pending.values()})
    client_ids = sorted({item.client_id for item in pending.values()})
    # The batch's reads in one round trip, the rooms locked first, in id order
    # (see rooms_lock); where the database hands ids out ahead, with an id for
    # each message the batch may store, so that the messages go in the same
    # round trip as the rows that refer to them.
    ids = new_ids(Message, len(pending))
    locked, resent, members, *allocated = trips.run(
        select_in(Room, _ROOM_FIELDS, id=room_ids, lock=True),
        select_in(Message, ("id",), room=room_ids, author=author_ids, client_id=client_ids),
        select_in(Membership, _MEMBERSHIP_FIELDS, room=room_ids, user=author_ids),
        *([ids] if ids is not None else []),
    )
    message_ids = iter(allocated[0]) if allocated else None
    rooms = {room.pk: room for room in locked}
    existing: dict[tuple[int, int, str], Message] = {}
    if resent:
        # A resend (rare): its original, whole.
        existing = {
            (m.room_id, m.author_id, m.client_id): m
            # Unordered: the model's ordering (room, seq) would have SQLite
            # read the room's messages in seq order instead of looking the
            # unique keys up (realtime.db.select_in).
            for m in Message.objects.select_related("author", "room")
            .filter(room_id__in=room_ids, author_id__in=author_ids, client_id__in=client_ids)
            .order_by()
        }
    memberships = {(m.room_id, m.user_id): m for m in members}
    uploads = attachments.pending_locked(
        pk for item in pending.values() for pk in item.attachment_ids
    )
    # Authors with a new message in a room in this batch (slow mode counts it).
    sent_here: set[tuple[int, int]] = set()

    created: list[tuple[int, Message, Membership]] = []
    joined: list[Membership] = []  # the memberships first posts make
    bound: dict[int, list[Attachment]] = {}
    for index, item in pending.items():
        send = item.send
        room = rooms.get(send.room.pk)
        if room is None:  # deleted while its sockets were open
            outcomes[index] = RoomNotFound()
            continue
        key = (room.pk, send.author.pk, item.client_id)
        original = existing.get(key)
        if original is not None:
            outcomes[index] = MessageStored(original, created=False, push=None)
            continue
        membership = memberships.get((room.pk, send.author.pk))
        # Every check message_create makes before it stores a send belongs here
        # too, per send, before anything of it is stored: its refusal is this
        # send's outcome, and nothing of it is stored.
        try:
            moderation_selectors.check_send(room=room, author=send.author, membership=membership)
            if (room.pk, send.author.pk) in sent_here:
                moderation_selectors.check_send_again(
                    room=room, author=send.author, membership=membership
                )
            if membership is None and not room.is_public:
                raise RoomForbidden()
            replied = (
                None
                if send.reply_to is None
                else selectors.message_in_room(room=room, message_id=send.reply_to)
            )
            files = attachments.check_pending(
                uploads, ids=item.attachment_ids, author=send.author, room=room
            )
        except Refused as error:
            outcomes[index] = error
            continue
        for attachment in files:
            del uploads[attachment.pk]  # one message each
        if membership is None:
            # Stored below with the batch's other first posts, in one statement.
            membership = Membership(room=room, user=send.author)
            memberships[(room.pk, send.author.pk)] = membership
            joined.append(membership)
        sent_here.add((room.pk, send.author.pk))
        room.last_seq += 1
        message = Message(
            room=room,
            seq=room.last_seq,
            author=send.author,
            body=item.body,
            html=item.html,
            client_id=item.client_id,
            reply_to=replied,
        )
        existing[key] = message
        created.append((index, message, membership))
        bound[index] = files

    if created:
        # Your own messages are read.
        for _, message, membership in created:
            membership.last_read_seq = max(membership.last_read_seq, message.seq)
        messages = [message for _, message, _ in created]
        if message_ids is not None:
            for message in messages:
                message.pk = next(message_ids)
        # Stamps the messages' time, which their frames show.
        messages_insert = _messages_insert(messages)
        # The first posts' memberships (and the messages, when they have no id
        # yet) in one round trip, each given its id: post_save's receivers see
        # the memberships stored, as Membership.objects.create would show them.
        inserts = (
            _memberships_insert(joined),
            None if message_ids is not None else messages_insert,
        )
        if any(query is not None for query in inserts):
            trips.run(*(query for query in inserts if query is not None))
        _memberships_saved(joined)
        # Whatever message_create stores beside a new message (rows that refer
        # to it) is stored with the batch's last writes, once the messages
        # have their ids.
        attached: list[tuple[int, int]] = []
        for index, message, _ in created:
            files = bound[index]
            for attachment in files:
                attachment.message = message
                attached.append((attachment.pk, message.pk))
            # A new message has no reactions, and these attachments: its frame
            # needs no query for them.
            message._prefetched_objects_cache = {  # type: ignore[attr-defined]
                "reactions": [],
                "attachments": files,
            }
        room_events = []
        for message in messages:
            text = frames.event_frame_text(
                message.seq, RoomEvent.Kind.MESSAGE, message, message.room.slug
            )
            room_events.append(
                RoomEvent(
                    room=message.room,
                    seq=message.seq,
                    kind=RoomEvent.Kind.MESSAGE,
                    message=message,
                    text=text,
                )
            )
        touched = {message.room_id: message.room for message in messages}
        # The memberships made above were stored with their read mark.
        new = {m.pk for m in joined}
        read = {m.pk: m.last_read_seq for _, _, m in created if m.pk not in new}
        # The batch's other writes in one round trip, with its COMMIT.
        writes = (
            messages_insert if message_ids is not None else None,
            set_values(Attachment, "message", attached),
            _room_events_insert(room_events),
            set_values(Room, "last_seq", [(room.pk, room.last_seq) for room in touched.values()]),
            set_values(Membership, "last_read_seq", list(read.items())),
        )
        trips.run(*(write for write in writes if write is not None), last=True)
        here(metrics.messages_stored).inc(len(created))
        # One push and one commit hook for the lot (each costs a lookup of the
        # connection and a callback): the events in order, then message_posted each.
        push = events.room_events(room_events)
        transaction.on_commit(lambda: _posted(messages))
        for index, message, _ in created:
            outcomes[index] = MessageStored(message, created=True, push=push)


def _memberships_insert(joined: list[Membership]) -> Query[None] | None:
    """The statement that stores the memberships a batch's first posts make
    (see _messages_insert: bulk_create was a fifth of a batch's CPU at 200
    sends/s, each a first post)."""
    return _insert_now(
        Membership,
        _MEMBERSHIP_INSERT_FIELDS,
        joined,
        stamp="joined_at",
        row=lambda m, now: (
            m.room_id,
            m.user_id,
            str(m.role),
            now,
            m.last_read_seq,
            str(m.notify_level),
            None,  # muted_until
        ),
        key=(("room", "user"), lambda m: (m.room_id, m.user_id)),
    )


def _memberships_saved(joined: list[Membership]) -> None:
    """Tell post_save's receivers of the memberships stored, as
    Membership.objects.create would (a new membership's room list follows the
    room through one; bulk statements send no signals)."""
    for membership in joined:
        post_save.send(
            sender=Membership,
            instance=membership,
            created=True,
            update_fields=None,
            raw=False,
            using=connection.alias,
        )


# What a batch reads of its rooms and memberships: everything but the times,
# which are left deferred (a read of one loads it).
_ROOM_FIELDS = (
    "id",
    "slug",
    "name",
    "kind",
    "created_by",
    "last_seq",
    "slow_mode_seconds",
    "direct_low",
    "direct_high",
)
_MEMBERSHIP_FIELDS = ("id", "room", "user", "role", "last_read_seq", "notify_level")
_MEMBERSHIP_INSERT_FIELDS = (
    "room",
    "user",
    "role",
    "joined_at",
    "last_read_seq",
    "notify_level",
    "muted_until",
)


def _messages_insert(messages: list[Message]) -> Query[None] | None:
    """The statement that inserts new messages.

    bulk_create compiles its statement field by field and row by row: in a
    profile of batches of sends that cost more CPU than the database's own
    work. This statement's shape is fixed; only the number of rows varies."""
    return _insert_now(
        Message,
        _MESSAGE_FIELDS,
        messages,
        stamp="created_at",
        row=lambda m, now: (
            m.room_id,
            m.seq,
            m.author_id,
            m.body,
            m.html,
            m.client_id,
            now,
            m.reply_to_id,
        ),
        key=(("room", "seq"), lambda m: (m.room_id, m.seq)),
    )


def _insert_now(
    model: type[M],
    fields: tuple[str, ...],
    objects: list[M],
    *,
    stamp: str,
    row: Callable[[M, Any], tuple[Any, ...]],
    key: tuple[tuple[str, str], Callable[[M], tuple[Any, ...]]],
) -> Query[None] | None:
    """The insert of `objects` in one statement of fixed shape, their `stamp`
    time set to now: `row` gives an object's values in `fields`' order (with
    now in the database's form). Once run, it marks each object saved, and
    gives each its id unless they all had one (realtime.db.new_ids): RETURNING
    gives the rows in no promised order, each matched to its object by `key`
    (two columns, and the same of an object)."""
    if not objects:
        return None
    now = timezone.now()
    stored_now = connection.ops.adapt_datetimefield_value(now)
    for instance in objects:
        setattr(instance, stamp, now)
    if all(instance.pk is not None for instance in objects):
        rows = [(o.pk, *row(o, stored_now)) for o in objects]
        query = insert(model, ("id", *fields), rows)
        if query is None:
            return None

        def saved(returned: list[tuple]) -> None:
            for instance in objects:
                instance._state.adding = False
                instance._state.db = connection.alias

        return Query(query.sql, query.params, saved, rows=False)
    columns, key_of = key
    query = insert(model, fields, [row(o, stored_now) for o in objects], returning=("id", *columns))
    if query is None:
        return None
    by_key = {key_of(instance): instance for instance in objects}

    def read(returned: list[tuple]) -> None:
        for pk, *values in returned:
            instance = by_key[tuple(values)]
            instance.pk = pk
            instance._state.adding = False
            instance._state.db = connection.alias

    return Query(query.sql, query.params, read)


def _room_events_insert(room_events: list[RoomEvent]) -> Query | None:
    """The statement that inserts a batch's room events (see _messages_insert)."""
    rows = [(e.room_id, e.seq, e.kind, e.message_id, e.text) for e in room_events]
    return insert(RoomEvent, _ROOM_EVENT_FIELDS, rows)


_MESSAGE_FIELDS = (
    "room",
    "seq",
    "author",
    "body",
    "html",
    "client_id",
    "created_at",
    "reply_to",
)
_ROOM_EVENT_FIELDS = ("room", "seq", "kind", "message", "text")


def _posted(messages: list[Message]) -> None:
    for message in messages:
        _log_receiver_errors(message_posted.send_robust(sender=Message, message=message))


def _log_receiver_errors(responses: list[tuple[Any, Any]]) -> None:
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("chat signal receiver %r failed", receiver, exc_info=response)


@transaction.atomic
def message_edit(*, room: Room, actor, message_id: int, body: str) -> EventStored:
    """Replace a message's body (its author only), keeping the previous one."""
    body = validate_body(body)
    locked = _lock_room(room)
    _check_reader(locked, actor)
    message = selectors.message_in_room(room=locked, message_id=message_id)
    if message.author_id != actor.pk:
        raise MessageForbidden(gettext("Only its author may edit a message."))
    if body == message.body:
        return NOTHING_CHANGED
    now = timezone.now()
    MessageEdit.objects.create(message=message, body=message.body, edited_at=now)
    message.body, message.html, message.edited_at = body, _render(body), now
    message.save(update_fields=["body", "html", "edited_at"])
    event = _store_event(locked, RoomEvent.Kind.EDIT, message)
    push = events.room_event(event)
    _send_on_commit(message_edited, message=message)
    return EventStored(event, push)


@transaction.atomic
def message_delete(*, room: Room, actor, message_id: int) -> EventStored:
    """Delete a message: its author, the room's owner or a moderator (the
    permission chat.delete_message) may. It keeps its id, seq, author and time;
    its body, its earlier bodies and its reactions go, from the stored frames
    of its earlier events and of replies to it too."""
    locked = _lock_room(room)
    if not selectors.moderates_messages(actor):
        _check_reader(locked, actor)
    message = selectors.message_in_room(room=locked, message_id=message_id)
    if not selectors.may_delete(room=locked, message=message, user=actor):
        raise MessageForbidden(
            gettext("Only its author, the room's owner or a moderator may delete it.")
        )
    message.body, message.html = "", ""
    message.deleted_at, message.deleted_by = timezone.now(), actor
    message.save(update_fields=["body", "html", "deleted_at", "deleted_by"])
    Reaction.objects.filter(message=message).delete()
    MessageEdit.objects.filter(message=message).delete()
    # Their files go after commit (chat.receivers).
    Attachment.objects.filter(message=message).delete()
    event = _store_event(locked, RoomEvent.Kind.DELETE, message)
    _redact_earlier_events(locked, message, before_seq=event.seq)
    push = events.room_event(event)
    _send_on_commit(message_deleted, message=message)
    return EventStored(event, push)


def _redact_earlier_events(locked: Room, deleted: Message, *, before_seq: int) -> None:
    """Rewrite the stored frames that showed the deleted message's body (its
    own events, replies' excerpts) once here, so replaying them never shows it."""
    shown = RoomEvent.objects.filter(room=locked, seq__lt=before_seq).filter(
        Q(message=deleted) | Q(message__reply_to=deleted)
    )
    changed = []
    for event in shown.only("pk", "text"):
        event.text = frames.with_message_deleted(event.text, deleted, locked.slug)
        changed.append(event)
    RoomEvent.objects.bulk_update(changed, ["text"], batch_size=500)


@transaction.atomic
def message_react(*, room: Room, actor, message_id: int, emoji: str, on: bool) -> EventStored:
    """Add (`on`) or remove the actor's reaction `emoji`; doing what is done changes nothing."""
    emoji = validate_emoji(emoji)
    locked = _lock_room(room)
    _check_reader(locked, actor)
    message = selectors.message_in_room(room=locked, message_id=message_id)
    mine = Reaction.objects.filter(message=message, user=actor, emoji=emoji)
    if on:
        if mine.exists():
            return NOTHING_CHANGED
        present = set(Reaction.objects.filter(message=message).values_list("emoji", flat=True))
        if emoji not in present and len(present) >= settings.CHAT_MESSAGE_EMOJI_MAX:
            raise Refused(
                gettext("A message has at most %(max)s different emoji.")
                % {"max": settings.CHAT_MESSAGE_EMOJI_MAX}
            )
        Reaction.objects.create(message=message, user=actor, emoji=emoji)
        _send_on_commit(reaction_added, message=message, user=actor, emoji=emoji)
    elif not mine.delete()[0]:
        return NOTHING_CHANGED
    event = _store_event(locked, RoomEvent.Kind.REACTION, message)
    return EventStored(event, events.room_event(event))


def room_mark_read(*, room: Room, user, seq: int) -> bool:
    """Store how far `user` has read in `room` (a seq: the messages up to it are
    read); it never moves back. Return whether it moved."""
    last_seq = Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True).first()
    if last_seq is None:
        raise RoomNotFound()
    seq = min(seq, last_seq)
    updated = Membership.objects.filter(room=room, user=user, last_read_seq__lt=seq).update(
        last_read_seq=seq
    )
    if updated:
        events.read_moved(room_id=room.pk, user=user, seq=seq)
        _send_on_commit(room_read, room=room, user=user, seq=seq)
    return bool(updated)


@transaction.atomic
def membership_notify_set(
    *, room: Room, user, level: str, muted_until: "datetime | None" = None
) -> Membership:
    """Set which notifications `room` causes its member `user`, and until when
    nothing from it goes beyond the inbox (`muted_until`, None: not muted)."""
    if level not in Membership.NotifyLevel.values:
        raise Refused(
            gettext("A room's notification level is one of %(levels)s.")
            % {"levels": ", ".join(Membership.NotifyLevel.values)}
        )
    updated = Membership.objects.filter(room=room, user=user).update(
        notify_level=level, muted_until=muted_until
    )
    if not updated:
        raise RoomNotFound()
    return Membership.objects.get(room=room, user=user)


def _unique_slug(name: str) -> str:
    base = slugs.base_for_name(name)
    slug, n = base, 2
    while Room.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def validate_room_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise Refused(gettext("A room needs a name."))
    if len(name) > settings.CHAT_ROOM_NAME_MAX_CHARS:
        raise Refused(
            gettext("A room name is at most %(max)s characters.")
            % {"max": settings.CHAT_ROOM_NAME_MAX_CHARS}
        )
    return name


@transaction.atomic
def room_create(*, name: str, created_by, private: bool = False) -> Room:
    """Create a public or private room owned by `created_by`."""
    name = validate_room_name(name)
    kind = Room.Kind.PRIVATE if private else Room.Kind.PUBLIC
    for _ in range(5):
        try:
            with transaction.atomic():
                room = Room.objects.create(
                    slug=_unique_slug(name), name=name, kind=kind, created_by=created_by
                )
            break
        except IntegrityError:  # a concurrent create took the slug
            continue
    else:
        raise Refused(gettext("Could not find a free address for that name; try another."))
    Membership.objects.create(room=room, user=created_by, role=Membership.Role.OWNER)
    return room


@transaction.atomic
def room_join(*, room: Room, user) -> Membership:
    """Join a public room (idempotent)."""
    if not room.is_public:
        raise RoomForbidden()
    if moderation_selectors.is_banned(room_id=room.pk, user_id=user.pk):
        raise RoomBanned()
    membership, _ = Membership.objects.get_or_create(
        room=room, user=user, defaults={"last_read_seq": room.last_seq}
    )
    return membership


@transaction.atomic
def room_leave(*, room: Room, user) -> None:
    """Leave a public or private room; direct rooms can't be left."""
    if room.kind == Room.Kind.DIRECT:
        raise Refused(gettext("You can't leave a direct conversation."))
    # Deleting the membership closes the user's sockets in a private room
    # (chat.receivers), whichever path deletes it.
    Membership.objects.filter(room=room, user=user).delete()


@transaction.atomic
def member_add(*, room: Room, actor, username: str) -> Membership:
    """Add a user to a private room; only its owner may."""
    room = selectors.room_for_owner(slug=room.slug, user=actor)
    user = selectors.user_by_username(username or "")
    if user is None:
        raise Refused(gettext("There is no user called “%(name)s”.") % {"name": username})
    if moderation_selectors.is_banned(room_id=room.pk, user_id=user.pk):
        raise Refused(
            gettext("%(name)s is banned from this room: lift the ban first.")
            % {"name": user.get_username()}
        )
    membership, _ = Membership.objects.get_or_create(room=room, user=user)
    return membership


@transaction.atomic
def member_remove(*, room: Room, actor, username: str) -> None:
    """Remove a user from a private room; only its owner may, and not themself."""
    room = selectors.room_for_owner(slug=room.slug, user=actor)
    user = selectors.user_by_username(username or "")
    if user is None:
        raise Refused(gettext("There is no user called “%(name)s”.") % {"name": username})
    if user.pk == actor.pk:
        raise Refused(gettext("The owner can't remove themself."))
    # The deletion closes their sockets in the room (chat.receivers).
    Membership.objects.filter(room=room, user=user).delete()


def _direct_room_create(*, user, other) -> Room:
    """Create the direct room of `user` and `other`, or return the one a concurrent
    open made first."""
    low, high = sorted([user, other], key=lambda person: person.pk)
    base = slugs.direct_slug(low.pk, high.pk)
    for attempt in range(1, 6):
        # The slug is only an address: a pair whose old room lost a person keeps
        # that room's slug, so a new room takes the next free suffix.
        slug = base if attempt == 1 else f"{base}-{attempt}"
        try:
            with transaction.atomic():
                room = Room.objects.create(
                    slug=slug,
                    name=f"{user.username} & {other.username}",
                    kind=Room.Kind.DIRECT,
                    created_by=user,
                    direct_low=low,
                    direct_high=high,
                )
        except IntegrityError:
            existing = selectors.direct_room(user=user, other=other)
            if existing is not None:  # the other person opened it at the same moment
                return existing
            continue
        Membership.objects.bulk_create(
            [Membership(room=room, user=low), Membership(room=room, user=high)]
        )
        return room
    raise Refused(gettext("Could not open that conversation; try again."))


@transaction.atomic
def direct_room_open(*, user, username: str) -> Room:
    """Return the two-person room of `user` and `username`, creating it once."""
    other = selectors.user_by_username(username or "")
    if other is None:
        raise Refused(gettext("There is no user called “%(name)s”.") % {"name": username})
    if other.pk == user.pk:
        raise Refused(gettext("You can't message yourself."))
    moderation_selectors.check_direct_allowed(user=user, other=other)
    room = selectors.direct_room(user=user, other=other)
    if room is None:
        room = _direct_room_create(user=user, other=other)
    return room
