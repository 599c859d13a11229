"""Every write of room moderation: bans, slow mode, pins, reports and their
resolution. Each runs in one transaction and pushes only after commit; who
may do what is decided in chat.moderation_selectors.

The room's owner and staff with the permission `chat.moderate_room` moderate
a room (ban, unban, slow mode, pin); any reader reports a message; staff with
the permission resolve reports (delete the message, ban its author, dismiss).
"""

import contextlib
import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from realtime.errors import Forbidden, NotFound, Refused

from . import events, moderation_selectors, selectors
from .exceptions import MessageNotFound
from .models import Membership, Pin, Report, Room, RoomBan, RoomEvent
from .services import NOTHING_CHANGED, EventStored, _check_reader, _lock_room, _store_event
from .services import message_delete as _message_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def _member_by_username(username: str) -> "User":
    user = selectors.user_by_username(username or "")
    if user is None:
        raise NotFound(gettext("There is no user called %(name)s.") % {"name": repr(username)})
    return user


@transaction.atomic
def member_ban(*, room: Room, actor: "User", username: str) -> RoomBan:
    """Ban a user from a room: their membership goes, they can't join, read or
    post in it again, and their open sockets of it close with 4403 on every
    worker. The owner and staff with chat.moderate_room may; nobody bans the
    owner or themself. Banning someone banned already changes nothing."""
    room = moderation_selectors.room_for_moderator(slug=room.slug, user=actor)
    user = _member_by_username(username)
    if user.pk == actor.pk:
        raise Refused(gettext("You can't ban yourself."))
    if moderation_selectors.is_owner(room=room, user=user):
        raise Forbidden(gettext("The room's owner can't be banned."))
    ban, created = RoomBan.objects.get_or_create(
        room=room, user=user, defaults={"banned_by": actor}
    )
    # Deleting the membership takes the room out of their room list
    # (chat.receivers); the ban event closes their sockets, a public room's too.
    Membership.objects.filter(room=room, user=user).delete()
    if created:
        events.user_banned(room_id=room.pk, user_id=user.pk)
    return ban


@transaction.atomic
def member_unban(*, room: Room, actor: "User", username: str) -> bool:
    """Lift a ban (they may join again; nothing else comes back). Return whether there was one."""
    room = moderation_selectors.room_for_moderator(slug=room.slug, user=actor)
    user = _member_by_username(username)
    deleted, _ = RoomBan.objects.filter(room=room, user=user).delete()
    return bool(deleted)


def validate_slow_mode(seconds: object) -> int:
    """Return a slow mode in whole seconds (0 turns it off), or raise Refused."""
    if isinstance(seconds, str) and seconds.strip().isdigit():
        seconds = int(seconds.strip())
    top = settings.CHAT_SLOW_MODE_MAX_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= top:
        raise Refused(
            gettext("Slow mode is a whole number of seconds from 0 to %(max)d.") % {"max": top}
        )
    return seconds


@transaction.atomic
def slow_mode_set(*, room: Room, actor: "User", seconds: int) -> Room:
    """Set the seconds each member waits between messages in the room (0: off);
    every socket of the room is told after commit."""
    seconds = validate_slow_mode(seconds)
    room = moderation_selectors.room_for_moderator(slug=room.slug, user=actor)
    locked = _lock_room(room)
    if locked.slow_mode_seconds != seconds:
        locked.slow_mode_seconds = seconds
        locked.save(update_fields=["slow_mode_seconds"])
        events.slow_mode_changed(room_id=locked.pk, seconds=seconds)
    return locked


@transaction.atomic
def message_pin(*, room: Room, actor: "User", message_id: int, on: bool) -> EventStored:
    """Pin (`on`) or unpin a message of the room; the owner and moderators may.

    Each change is a room event (`pin` / `unpin`) with the room's next seq, so a
    client that reconnects catches up on it like an edit; doing what is done
    changes nothing. A room has at most CHAT_PINS_MAX pinned messages.
    """
    room = moderation_selectors.room_for_moderator(slug=room.slug, user=actor)
    locked = _lock_room(room)
    message = selectors.message_in_room(room=locked, message_id=message_id)
    pinned = Pin.objects.filter(message=message)
    if on:
        if pinned.exists():
            return NOTHING_CHANGED
        if moderation_selectors.pin_count(room=locked) >= settings.CHAT_PINS_MAX:
            raise Refused(
                gettext("A room has at most %(max)d pinned messages.")
                % {"max": settings.CHAT_PINS_MAX}
            )
        Pin.objects.create(room=locked, message=message, pinned_by=actor)
        kind = RoomEvent.Kind.PIN
    else:
        if not pinned.delete()[0]:
            return NOTHING_CHANGED
        kind = RoomEvent.Kind.UNPIN
    event = _store_event(locked, kind, message)
    return EventStored(event, events.room_event(event))


def validate_reason(reason: object) -> str:
    """Return a report's trimmed reason, or raise Refused."""
    if not isinstance(reason, str) or not reason.strip():
        raise Refused(gettext("Say why you report this message."))
    reason = reason.strip()
    top = settings.CHAT_REPORT_REASON_MAX_CHARS
    if len(reason) > top:
        raise Refused(
            gettext("A reason is at most %(max)d characters.") % {"max": top}, code="too_large"
        )
    return reason


@transaction.atomic
def report_create(*, room: Room, reporter: "User", message_id: int, reason: str) -> Report:
    """Report a message of a room the reporter may read, for staff to resolve.

    One open report per reporter and message: reporting it again while the
    first is open is refused. Nobody reports their own message.
    """
    reason = validate_reason(reason)
    _check_reader(room, reporter)
    message = selectors.message_in_room(room=room, message_id=message_id)
    if message.author_id == reporter.pk:
        raise Refused(gettext("You can't report your own message."))
    if moderation_selectors.open_report_exists(reporter=reporter, message=message):
        raise Refused(gettext("You have reported this message already."), code="duplicate")
    try:
        with transaction.atomic():
            return Report.objects.create(message=message, reporter=reporter, reason=reason)
    except IntegrityError:  # the same report from another socket at the same moment
        raise Refused(
            gettext("You have reported this message already."), code="duplicate"
        ) from None


class Resolution:
    DELETE = "delete"
    BAN = "ban"
    DISMISS = "dismiss"
    ALL = (DELETE, BAN, DISMISS)


_STATUS = {
    Resolution.DELETE: Report.Status.DELETED,
    Resolution.BAN: Report.Status.BANNED,
    Resolution.DISMISS: Report.Status.DISMISSED,
}


@transaction.atomic
def report_resolve(*, report_id: int, actor: "User", action: str) -> int:
    """Resolve an open report (staff with chat.moderate_room): delete the message,
    ban its author from the room, or dismiss it. Every open report of the same
    message is resolved with it; return how many were."""
    if action not in Resolution.ALL:
        raise Refused(gettext("Resolve a report by deleting, banning or dismissing."))
    if not moderation_selectors.moderates_any_room(actor):
        raise Forbidden(gettext("Only moderators resolve reports."))
    try:
        report = (
            Report.objects.select_for_update()
            .select_related("message__room", "message__author")
            .get(pk=report_id)
        )
    except Report.DoesNotExist:
        raise NotFound(gettext("No such report.")) from None
    if report.status != Report.Status.OPEN:
        raise Refused(gettext("This report was resolved already."), code="resolved")
    message = report.message
    if action == Resolution.DELETE:
        # Deleted meanwhile: the report is resolved all the same.
        with contextlib.suppress(MessageNotFound):
            _message_delete(room=message.room, actor=actor, message_id=message.pk)
    elif action == Resolution.BAN:
        member_ban(room=message.room, actor=actor, username=message.author.get_username())
    return Report.objects.filter(message=message, status=Report.Status.OPEN).update(
        status=_STATUS[action], resolved_at=timezone.now(), resolved_by=actor
    )
