"""Notifications other apps cause without knowing this one: chat's direct
messages, mentions, replies and reactions (nobody is notified of their own
action), reading a room; and group changes that move a user's sockets between
broadcast audiences."""

import functools
import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed

from accounts import selectors as account_selectors
from chat import events as chat_events
from chat.models import Membership, Message, Room
from chat.rendering import mentioned_user_ids
from chat.signals import (
    message_deleted,
    message_edited,
    message_posted,
    reaction_added,
    room_read,
)
from realtime import presence
from realtime.db import rows_in

from . import events, policy, services, titles
from .models import Kind, Notification, message_target

logger = logging.getLogger(__name__)

# The people one message notifies of a mention at most (the first this many it shows).
MENTIONS_MAX = 40
EXCERPT_MAX = 200


def excerpt(body: str) -> str:
    return body if len(body) <= EXCERPT_MAX else body[: EXCERPT_MAX - 1] + "…"


def message_url(message: Message) -> str:
    """The room, opened at the message."""
    return f"{message.room.get_absolute_url()}?at={message.seq}"


def _members(room: Room, user_ids: set[int] | None = None) -> "list[tuple[Membership, Any]]":
    """The room's members (those of `user_ids` only, when given): each
    membership with its user, by user id. Two statements of fixed shape
    (realtime.db.rows_in): every direct message asks, and the ORM's one read
    with its join cost twice the CPU (a direct room on PostgreSQL, in one
    process: about 670 us a read against 300)."""
    fields = ("user", "notify_level")
    if user_ids is None:
        memberships = rows_in(Membership, fields, room=[room.pk])
    elif user_ids:
        memberships = rows_in(Membership, fields, room=[room.pk], user=sorted(user_ids))
    else:
        return []
    if not memberships:
        return []
    user_model = get_user_model()
    user_fields = tuple(field.name for field in user_model._meta.concrete_fields)
    users = {
        user.pk: user
        for user in rows_in(user_model, user_fields, id=[m.user_id for m in memberships])
    }
    pairs = [(m, users[m.user_id]) for m in memberships if m.user_id in users]
    return sorted(pairs, key=lambda pair: pair[0].user_id)


def _hears(membership: Membership, user, kind: str) -> bool:
    """Whether a member is told of `kind` in their room: an active user whose
    level for it lets it cause such a notification (a muted room still does:
    muting only stops email and push)."""
    return user.is_active and policy.room_level_allows(membership.notify_level, kind)


def _notifiable(room: Room, user_ids: set[int], kind: str) -> list:
    """Those of `user_ids` told of `kind` in `room` (_hears), as users by id."""
    return [user for membership, user in _members(room, user_ids) if _hears(membership, user, kind)]


def _mentioned_ids(message: Message) -> set[int]:
    """The users the message shows as mentioned (its stored HTML: chat's
    renderer found them, active, by their @names; not an @name in code or in a
    link), the first MENTIONS_MAX, not its author nor anyone who blocks them.
    Who of them is a member, and hears of it, is the notification's to decide."""
    if "@" not in message.body:
        return set()
    mentioned = set(mentioned_user_ids(message.html)[:MENTIONS_MAX]) - {message.author_id}
    if not mentioned:
        return set()
    # Whoever blocks the author is not notified of their mentions.
    return mentioned - account_selectors.blocking(blocked_id=message.author_id, user_ids=mentioned)


def _in_the_room(room: Room, user_id: int) -> bool:
    """Whether the user has the room open now (a socket in it, on any worker)."""
    return async_to_sync(presence.is_here)(chat_events.room_group(room.pk), user_id)


def _notify_direct(message: Message) -> set[int]:
    """Notify the other person of a direct message unless they are looking at
    the conversation; return who was considered (they get nothing else)."""
    room = message.room
    others = set()
    users = []
    for membership, user in _members(room):
        if user.pk == message.author_id:
            continue
        others.add(user.pk)
        if _hears(membership, user, Kind.DIRECT) and not _in_the_room(room, user.pk):
            users.append(user)
    if users:
        services.notify(
            users,
            title=titles.DirectTitle(),
            body=excerpt(message.body),
            url=message_url(message),
            kind=Kind.DIRECT,
            actor=message.author,
            target=message_target(message.pk),
            collapse_key=f"direct:chat.room:{room.pk}",
        )
    return others


def _notify_mentions(message: Message, mentioned: set[int], *, edited: bool) -> None:
    if not mentioned:
        return
    room = message.room
    target = message_target(message.pk)
    users = _notifiable(room, mentioned, Kind.MENTION)
    if edited and users:
        # Mentioned once per message: an edit notifies only those it newly mentions.
        already = set(
            Notification.objects.filter(
                target=target, kind=Kind.MENTION, recipient_id__in=[user.pk for user in users]
            ).values_list("recipient_id", flat=True)
        )
        users = [user for user in users if user.pk not in already]
    if not users:
        return
    services.notify(
        users,
        title=titles.MentionTitle(room=room.name),
        body=excerpt(message.body),
        url=message_url(message),
        kind=Kind.MENTION,
        actor=message.author,
        target=target,
        # Mentions in one room group, whichever message made them.
        collapse_key=f"mention:chat.room:{room.pk}",
    )


def _notify_reply(message: Message, skip: set[int]) -> None:
    parent = message.reply_to
    if parent is None or parent.deleted:
        return
    author_id = parent.author_id
    if author_id == message.author_id or author_id in skip:
        return
    if account_selectors.blocking(blocked_id=message.author_id, user_ids=[author_id]):
        return  # nothing reaches a user from someone they block
    users = _notifiable(message.room, {author_id}, Kind.REPLY)
    if not users:
        return
    services.notify(
        users,
        title=titles.ReplyTitle(),
        body=excerpt(message.body),
        url=message_url(message),
        kind=Kind.REPLY,
        actor=message.author,
        target=message_target(message.pk),
        # Replies to one message group.
        collapse_key=f"reply:{message_target(parent.pk)}",
    )


def _guarded(what: str):
    """The chat change is stored and sent already: a lost notification must not fail it."""

    def wrap(receiver):
        @functools.wraps(receiver)
        def guarded(sender, **kwargs) -> None:
            try:
                receiver(sender, **kwargs)
            except Exception:
                logger.exception("%s notifications failed", what)

        return guarded

    return wrap


@_guarded("message")
def on_message_posted(sender, message, **kwargs) -> None:
    """Notify about a new message: the other person of a direct room (unless
    they have it open), members it @mentions, the author of the message it
    replies to; one notification per person, in that order of precedence."""
    room = message.room
    done: set[int] = set()
    if room.kind == Room.Kind.DIRECT:
        done = _notify_direct(message)
    mentioned = _mentioned_ids(message) - done
    _notify_mentions(message, mentioned, edited=False)
    _notify_reply(message, done | mentioned)


@_guarded("edit")
def on_message_edited(sender, message, **kwargs) -> None:
    """An edit notifies only those it newly mentions (never in a direct room:
    the other person was told of the message itself)."""
    if message.room.kind == Room.Kind.DIRECT:
        return
    _notify_mentions(message, _mentioned_ids(message), edited=True)


@_guarded("reaction")
def on_reaction_added(sender, message, user, emoji, **kwargs) -> None:
    """Tell a message's author that someone reacted to it; reactions to one
    message group ("alice and 3 others reacted to your message")."""
    if message.author_id == user.pk or message.deleted:
        return
    users = _notifiable(message.room, {message.author_id}, Kind.REACTION)
    if not users:
        return
    services.notify(
        users,
        title=titles.ReactionTitle(),
        body=f"{emoji} {excerpt(message.body)}",
        url=message_url(message),
        kind=Kind.REACTION,
        actor=user,
        target=message_target(message.pk),
    )


def on_message_deleted(sender, message, **kwargs) -> None:
    """A deleted message's body goes from the notifications that quoted it."""
    services.notifications_withdraw_body(target=message_target(message.pk))


@_guarded("room read")
def on_room_read(sender, room, user, seq, **kwargs) -> None:
    """Reading a room reads the notifications about its messages up to `seq`."""
    services.notifications_mark_read_in_room(user=user, room=room, seq=seq)


def on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Move the sockets of users whose groups changed into their new audience groups."""
    if action == "pre_clear":
        # After the clear nobody is left to ask who was in the group.
        instance._notifications_cleared = (
            [instance.pk] if not reverse else list(instance.user_set.values_list("pk", flat=True))
        )
        return
    if action == "post_clear":
        user_ids = getattr(instance, "_notifications_cleared", [])
    elif action in {"post_add", "post_remove"}:
        user_ids = [instance.pk] if not reverse else list(pk_set or [])
    else:
        return
    if user_ids:
        events.groups_changed(user_ids=user_ids)


def connect() -> None:
    message_posted.connect(on_message_posted, dispatch_uid="notifications.on_message_posted")
    message_edited.connect(on_message_edited, dispatch_uid="notifications.on_message_edited")
    message_deleted.connect(on_message_deleted, dispatch_uid="notifications.on_message_deleted")
    reaction_added.connect(on_reaction_added, dispatch_uid="notifications.on_reaction_added")
    room_read.connect(on_room_read, dispatch_uid="notifications.on_room_read")
    m2m_changed.connect(
        on_groups_changed,
        sender=get_user_model().groups.through,
        dispatch_uid="notifications.on_groups_changed",
    )
