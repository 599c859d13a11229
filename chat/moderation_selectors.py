"""Every read and permission check of room moderation: who may moderate a
room, who is banned, what is pinned, and the checks a send passes first
(bans, blocks between the two people of a direct room, slow mode)."""

import logging
from datetime import timedelta
from math import ceil
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from realtime.errors import Forbidden, Refused

from . import selectors
from .exceptions import RoomBanned, RoomNotFound
from .models import Membership, Message, Pin, Report, Room, RoomBan
from .signals import blocked_between

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

MODERATE_PERMISSION = "chat.moderate_room"


def moderates_any_room(user: "User") -> bool:
    """Return whether `user` is staff with the permission to moderate every room."""
    return user.has_perm(MODERATE_PERMISSION)


def is_owner(*, room: Room, user: "User") -> bool:
    return Membership.objects.filter(room=room, user=user, role=Membership.Role.OWNER).exists()


def may_moderate(*, room: Room, user: "User", owner: bool | None = None) -> bool:
    """Return whether `user` may ban, set slow mode and pin in `room`: its owner,
    or staff with chat.moderate_room. Direct rooms have no moderation. `owner`:
    whether `user` owns the room, when the caller has read the membership
    already (None: read here); the owner's permissions are not read at all."""
    if room.kind == Room.Kind.DIRECT:
        return False
    if owner is None:
        owner = is_owner(room=room, user=user)
    return owner or moderates_any_room(user)


def room_for_moderator(*, slug: str, user: "User") -> Room:
    """Return the room if `user` may moderate it; raise RoomNotFound or RoomForbidden.

    Staff with the permission moderate rooms they are not members of, private
    ones too; anyone else must be able to read the room first.
    """
    try:
        room = Room.objects.get(slug=slug)
    except Room.DoesNotExist:
        raise RoomNotFound() from None
    if not moderates_any_room(user):
        room = selectors.room_for_reader(slug=slug, user=user)
    if not may_moderate(room=room, user=user):
        raise Forbidden(gettext("Only the room's owner or a moderator may do that."))
    return room


def is_banned(*, room_id: int, user_id: int) -> bool:
    return selectors.is_banned(room_id=room_id, user_id=user_id)


def room_bans(*, room: Room) -> QuerySet[RoomBan]:
    """Return the room's bans, with their users, by username."""
    return room.bans.select_related("user").order_by("user__username")


def pinned_messages(*, room: Room) -> list[Message]:
    """Return the room's pinned messages that are not deleted, newest pin first,
    with their authors."""
    pins = (
        Pin.objects.filter(room=room, message__deleted_at__isnull=True)
        .select_related("message__author")
        .order_by("-pinned_at", "-id")[: settings.CHAT_PINS_MAX]
    )
    return [pin.message for pin in pins]


def pin_count(*, room: Room) -> int:
    return Pin.objects.filter(room=room, message__deleted_at__isnull=True).count()


def blocks_between(*, user_id: int, other_id: int) -> bool:
    """Return whether one of two users blocks the other (accounts answers)."""
    for receiver, answer in blocked_between.send_robust(
        sender=Room, user_id=user_id, other_id=other_id
    ):
        if isinstance(answer, Exception):
            # Refusing a conversation beats letting a blocked person through.
            logger.error("blocked_between receiver %r failed", receiver, exc_info=answer)
            return True
        if answer:
            return True
    return False


def check_direct_allowed(*, user: "User", other: "User") -> None:
    """Refuse a direct conversation of two people while one of them blocks the other."""
    if blocks_between(user_id=user.pk, other_id=other.pk):
        raise Forbidden(gettext("You can't message this person."), code="blocked")


def check_send(*, room: Room, author: "User", membership: Membership | None) -> None:
    """Refuse a new message the room's moderation does not allow: a banned
    author, a direct room whose two people are blocked, a send within the slow
    mode's wait (`slow_mode` error with `retry_after`). Called with the room row
    locked, before anything is stored."""
    if membership is None and room.is_public and is_banned(room_id=room.pk, user_id=author.pk):
        raise RoomBanned()
    if room.kind == Room.Kind.DIRECT:
        other_id = room.direct_high_id if room.direct_low_id == author.pk else room.direct_low_id
        if other_id is not None and blocks_between(user_id=author.pk, other_id=other_id):
            raise Forbidden(gettext("You can't message this person."), code="blocked")
    if room.slow_mode_seconds:
        _check_slow_mode(room, author, membership)


def check_send_again(*, room: Room, author: "User", membership: Membership | None) -> None:
    """Refuse `author`'s second new message in `room` within one batch of sends
    (chat.writer) while slow mode is on: the first is not stored yet, so
    check_send can't see it."""
    if room.slow_mode_seconds and not _slow_mode_exempt(author, membership):
        raise _slow_mode_refusal(room, float(room.slow_mode_seconds))


def _slow_mode_exempt(author: "User", membership: Membership | None) -> bool:
    # The owner and moderators are exempt, as in Slack and Discord.
    if membership is not None and membership.is_owner:
        return True
    return moderates_any_room(author)


def _check_slow_mode(room: Room, author: "User", membership: Membership | None) -> None:
    if _slow_mode_exempt(author, membership):
        return
    now = timezone.now()
    since = now - timedelta(seconds=room.slow_mode_seconds)
    last = Message.objects.filter(room=room, author=author, created_at__gt=since).aggregate(
        last=Max("created_at")
    )["last"]
    if last is None:
        return
    wait = room.slow_mode_seconds - (now - last).total_seconds()
    if wait > 0:
        raise _slow_mode_refusal(room, wait)


def _slow_mode_refusal(room: Room, wait: float) -> Refused:
    # Tenths of a second, rounded up: the client waits at least as long as needed.
    retry_after = ceil(wait * 10) / 10
    seconds = ceil(wait)
    return Refused(
        ngettext(
            "Slow mode is on: you can send again in %(seconds)d second.",
            "Slow mode is on: you can send again in %(seconds)d seconds.",
            seconds,
        )
        % {"seconds": seconds},
        code="slow_mode",
        retry_after=retry_after,
        slow_mode=room.slow_mode_seconds,
    )


def open_report_exists(*, reporter: "User", message: Message) -> bool:
    return Report.objects.filter(
        reporter=reporter, message=message, status=Report.Status.OPEN
    ).exists()
