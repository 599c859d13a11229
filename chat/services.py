"""Every write to chat data. Each runs in one transaction and pushes only after commit."""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction

from realtime.errors import Refused

from . import events, metrics, selectors, slugs
from .exceptions import RoomForbidden, RoomNotFound
from .models import Membership, Message, Room
from .signals import message_posted

if TYPE_CHECKING:
    from realtime.push import Push

logger = logging.getLogger(__name__)


def validate_body(body) -> str:
    """Return the trimmed body, or raise Refused as the contract says."""
    if not isinstance(body, str):
        raise Refused("body must be a string.")
    body = body.strip()
    if not body:
        raise Refused("body must not be empty.")
    if len(body) > settings.CHAT_MAX_BODY_CHARS:
        raise Refused(f"body is over {settings.CHAT_MAX_BODY_CHARS} characters.", code="too_large")
    return body


def validate_client_id(client_id) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
        raise Refused("client_id must be a string of 1 to 64 characters.")
    return client_id


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


@transaction.atomic
def message_create(*, room: Room, author, body: str, client_id: str) -> MessageStored:
    """Store a message and give it the room's next seq.

    A resend with the same client_id returns the original, unchanged. Posting in a
    public room joins it; a private room needs membership.
    """
    body = validate_body(body)
    client_id = validate_client_id(client_id)
    # The room row's lock orders every send to this room: seq has no gaps and
    # the client_id check below can't race another send.
    try:
        locked = Room.objects.select_for_update().get(pk=room.pk)
    except Room.DoesNotExist:
        raise RoomNotFound() from None  # deleted while its sockets were open
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
    if membership is None:
        if not locked.is_public:
            raise RoomForbidden()
        membership = Membership.objects.create(room=locked, user=author)

    locked.last_seq += 1
    locked.save(update_fields=["last_seq"])
    message = Message.objects.create(
        room=locked, seq=locked.last_seq, author=author, body=body, client_id=client_id
    )
    # Your own message is read.
    Membership.objects.filter(pk=membership.pk).update(last_read_seq=locked.last_seq)
    metrics.messages_stored.labels(metrics.WORKER).inc()
    push = events.message_created(message)
    # send_robust: a failing receiver (another app) must not fail a stored send.
    transaction.on_commit(
        lambda: _log_receiver_errors(message_posted.send_robust(sender=Message, message=message))
    )
    return MessageStored(message, created=True, push=push)


def _log_receiver_errors(responses) -> None:
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error("message_posted receiver %r failed", receiver, exc_info=response)


def room_mark_read(*, room: Room, user, seq: int) -> bool:
    """Store how far `user` has read in `room`; it never moves back. Return whether it moved."""
    last_seq = Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True).first()
    if last_seq is None:
        raise RoomNotFound()
    seq = min(seq, last_seq)
    updated = Membership.objects.filter(room=room, user=user, last_read_seq__lt=seq).update(
        last_read_seq=seq
    )
    if updated:
        events.read_moved(room_id=room.pk, user=user, seq=seq)
    return bool(updated)


def _unique_slug(name: str) -> str:
    base = slugs.base_for_name(name)
    slug, n = base, 2
    while Room.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def validate_room_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise Refused("A room needs a name.")
    if len(name) > settings.CHAT_ROOM_NAME_MAX_CHARS:
        raise Refused(f"A room name is at most {settings.CHAT_ROOM_NAME_MAX_CHARS} characters.")
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
        raise Refused("Could not find a free address for that name; try another.")
    Membership.objects.create(room=room, user=created_by, role=Membership.Role.OWNER)
    return room


@transaction.atomic
def room_join(*, room: Room, user) -> Membership:
    """Join a public room (idempotent)."""
    if not room.is_public:
        raise RoomForbidden()
    membership, _ = Membership.objects.get_or_create(
        room=room, user=user, defaults={"last_read_seq": room.last_seq}
    )
    return membership


@transaction.atomic
def room_leave(*, room: Room, user) -> None:
    """Leave a public or private room; direct rooms can't be left."""
    if room.kind == Room.Kind.DIRECT:
        raise Refused("You can't leave a direct conversation.")
    # Deleting the membership closes the user's sockets in a private room
    # (chat.receivers), whichever path deletes it.
    Membership.objects.filter(room=room, user=user).delete()


@transaction.atomic
def member_add(*, room: Room, actor, username: str) -> Membership:
    """Add a user to a private room; only its owner may."""
    room = selectors.room_for_owner(slug=room.slug, user=actor)
    user = selectors.user_by_username(username or "")
    if user is None:
        raise Refused(f"There is no user called {username!r}.")
    membership, _ = Membership.objects.get_or_create(room=room, user=user)
    return membership


@transaction.atomic
def member_remove(*, room: Room, actor, username: str) -> None:
    """Remove a user from a private room; only its owner may, and not themself."""
    room = selectors.room_for_owner(slug=room.slug, user=actor)
    user = selectors.user_by_username(username or "")
    if user is None:
        raise Refused(f"There is no user called {username!r}.")
    if user.pk == actor.pk:
        raise Refused("The owner can't remove themself.")
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
    raise Refused("Could not open that conversation; try again.")


@transaction.atomic
def direct_room_open(*, user, username: str) -> Room:
    """Return the two-person room of `user` and `username`, creating it once."""
    other = selectors.user_by_username(username or "")
    if other is None:
        raise Refused(f"There is no user called {username!r}.")
    if other.pk == user.pk:
        raise Refused("You can't message yourself.")
    room = selectors.direct_room(user=user, other=other)
    if room is None:
        room = _direct_room_create(user=user, other=other)
    return room
