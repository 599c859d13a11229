"""Notifications other apps cause without knowing this one: chat mentions, and
group changes that move a user's sockets between broadcast audiences."""

import logging
import re

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.db.models.signals import m2m_changed

from chat.signals import message_deleted, message_edited, message_posted

from . import events, services

logger = logging.getLogger(__name__)

# "@name" not preceded by a word character or "@" (so e-mail addresses don't count).
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")
MENTIONS_MAX = 20
EXCERPT_MAX = 200


def mentioned_names(body: str) -> set[str]:
    """Return the lowercased names after "@", with and without trailing punctuation."""
    names = set()
    for match in MENTION.finditer(body):
        name = match.group(1).lower()
        names.add(name)
        names.add(name.rstrip(".-+"))
        if len(names) >= 2 * MENTIONS_MAX:
            break
    names.discard("")
    return names


def message_target(message_id: int) -> str:
    """Return the target of a notification about a chat message."""
    return f"chat.message:{message_id}"


def on_message_posted(sender, message, **kwargs) -> None:
    """Notify each member of the room that the message mentions by @username,
    once per message: an edit notifies only those it newly mentions."""
    if "@" not in message.body:
        return
    try:
        names = mentioned_names(message.body)
        if not names:
            return
        wanted = Q()
        for name in names:
            wanted |= Q(username__iexact=name)
        room = message.room
        target = message_target(message.pk)
        mentioned = list(
            get_user_model()
            .objects.filter(wanted, is_active=True, chat_memberships__room=room)
            .exclude(pk=message.author_id)
            .exclude(notifications__target=target)
            .distinct()
        )
        if not mentioned:
            return
        body = message.body
        if len(body) > EXCERPT_MAX:
            body = body[: EXCERPT_MAX - 1] + "…"
        where = "a direct message" if room.kind == room.Kind.DIRECT else room.name
        services.notify(
            mentioned,
            title=f"{message.author.get_username()} mentioned you in {where}"[:200],
            body=body,
            url=room.get_absolute_url(),
            target=target,
        )
    except Exception:
        # The message is stored and sent already; a lost mention must not fail it.
        logger.exception("mention notifications failed for message %s", message.pk)


def on_message_deleted(sender, message, **kwargs) -> None:
    """A deleted message's body goes from the notifications that quoted it."""
    services.notifications_withdraw_body(target=message_target(message.pk))


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
    message_edited.connect(on_message_posted, dispatch_uid="notifications.on_message_edited")
    message_deleted.connect(on_message_deleted, dispatch_uid="notifications.on_message_deleted")
    m2m_changed.connect(
        on_groups_changed,
        sender=get_user_model().groups.through,
        dispatch_uid="notifications.on_groups_changed",
    )
