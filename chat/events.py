"""The only place chat events are built and sent to the channel layer
(realtime.push: after commit, one failure policy)."""

from typing import Any

from realtime.groups import user_group
from realtime.push import Push, coalesced, holding, send_all_on_commit, send_now, send_on_commit
from realtime.userstream import FRAME as STREAM_FRAME
from realtime.userstream import GROUPS_CHANGED as STREAM_GROUPS_CHANGED
from realtime.userstream import REVOKED as STREAM_REVOKED

from . import frames, live_frames, selectors
from .models import Message, RoomBan, RoomEvent

MESSAGE = "chat.message"
UPDATE = "chat.update"
TYPING = "chat.typing"
PRESENCE = "chat.presence"
ACCESS_REVOKED = "chat.access_revoked"
ROOM_DELETED = "chat.room_deleted"


# The pushes of a batch of sends (chat.writer), after its commit: one trip,
# from the writer's event loop (pushes_held) or, called outside it, at the end.
pushed_together = coalesced
pushes_held = holding


def room_group(room_id: int) -> str:
    return f"chat.room.{room_id}"


def room_event(event: RoomEvent) -> Push:
    """Deliver a stored room event (a new message, an edit, a deletion, a
    reaction) to every socket in its room, after commit: the frame text was
    serialized once when it was stored, and every socket forwards that text."""
    kind = MESSAGE if event.kind == RoomEvent.Kind.MESSAGE else UPDATE
    return send_on_commit(
        room_group(event.room_id), {"type": kind, "seq": event.seq, "text": event.text}
    )


def room_events(stored: list[RoomEvent]) -> Push:
    """Deliver many stored room events (a batch of sends), after commit, in
    order, in one trip to the layer: one Push for them all."""
    return send_all_on_commit(
        [
            (
                room_group(event.room_id),
                {
                    "type": MESSAGE if event.kind == RoomEvent.Kind.MESSAGE else UPDATE,
                    "seq": event.seq,
                    "text": event.text,
                },
            )
            for event in stored
        ]
    )


def access_revoked(*, room_id: int, user_id: int) -> None:
    """After commit, close the user's sockets in the room if their membership was
    what let them read it (a membership deleted by any path)."""

    def event() -> dict[str, Any] | None:
        # Decided on the committed state: a rollback, a re-add or the room made
        # public in the same transaction leaves the sockets open.
        if selectors.lost_access(room_id=room_id, user_id=user_id):
            return {"type": ACCESS_REVOKED, "user_id": user_id}
        return None

    send_on_commit(room_group(room_id), event)


def members_only(*, room_id: int) -> None:
    """After commit, close every socket in the room of someone who is not a member,
    if the room is not public (anymore).

    The event carries the members (sorted ids): each consumer decides without a
    database read, which would otherwise be one per socket in the room.
    """

    def event() -> dict[str, Any] | None:
        keep = selectors.readers_if_members_only(room_id=room_id)
        return None if keep is None else {"type": ACCESS_REVOKED, "keep": keep}

    send_on_commit(room_group(room_id), event)


def room_deleted(*, room_id: int) -> None:
    """After commit, close every socket in the room with 4404 (no such room)."""
    send_on_commit(room_group(room_id), {"type": ROOM_DELETED})


async def typing(*, room_id: int, user: Any, sender_channel: str) -> None:
    text = frames.typing_frame_text(user)
    await send_now(room_group(room_id), {"type": TYPING, "text": text, "sender": sender_channel})


async def presence_changed(*, room_id: int, online: list[dict], count: int) -> None:
    text = frames.presence_frame_text(online, count)
    await send_now(room_group(room_id), {"type": PRESENCE, "text": text})


# The pages around a room: the room list on the user's own stream (joined
# through realtime.userstream: chat.receivers), and read positions.

READ = "chat.read"


def activity_group(room_id: int) -> str:
    """The own streams of every member of a room: one publish per message, not one per member."""
    return f"chat.activity.{room_id}"


def reader_group(user_id: int) -> str:
    """The own streams of one user, for their read marks."""
    return f"chat.reader.{user_id}"


def room_activity(message: Message) -> Push:
    """Tell the room lists of the room's members about a new message, after commit."""
    group = activity_group(message.room_id)
    text = live_frames.room_activity_frame_text(message, message.room.slug)
    return send_on_commit(group, {"type": STREAM_FRAME, "group": group, "text": text})


def read_moved(*, room_id: int, user: Any, seq: int) -> None:
    """After commit: the user's room lists get their new unread count; the room
    gets their read position if they share it and the room is small."""
    group = reader_group(user.pk)

    def count() -> dict[str, Any] | None:
        state = selectors.read_state(room_id=room_id, user_id=user.pk)
        if state is None:
            return None
        text = live_frames.room_read_frame_text(state)
        return {"type": STREAM_FRAME, "group": group, "text": text}

    def position() -> dict[str, Any] | None:
        if not selectors.shares_read_position(room_id=room_id, user_id=user.pk):
            return None
        text = live_frames.read_frame_text(user, seq)
        return {"type": READ, "text": text, "user_id": user.pk}

    send_all_on_commit([(group, count), (room_group(room_id), position)])


def rooms_changed(*, user_id: int) -> None:
    """After commit, make the user's own streams follow the activity of their rooms now."""
    send_on_commit(user_group(user_id), {"type": STREAM_GROUPS_CHANGED})


def activity_revoked(*, room_id: int, user_id: int) -> None:
    """After commit, take the user's own streams out of the room's activity if
    they lost access (their membership deleted: they follow members' rooms only)."""

    def event() -> dict[str, Any] | None:
        if selectors.is_member_by_id(room_id=room_id, user_id=user_id):
            return None
        return {"type": STREAM_REVOKED, "group": activity_group(room_id), "user_id": user_id}

    send_on_commit(activity_group(room_id), event)


def activity_members_only(*, room_id: int) -> None:
    """After commit, take everyone's own streams but the members' out of the
    room's activity (a membership given to someone else)."""

    def event() -> dict[str, Any] | None:
        keep = selectors.member_ids(room_id=room_id)
        return {"type": STREAM_REVOKED, "group": activity_group(room_id), "keep": keep}

    send_on_commit(activity_group(room_id), event)


# Moderation (chat.moderation): a ban closes the banned user's sockets of the
# room (the same event as a revoked membership); slow mode is told to the room.

SLOW_MODE = "chat.slow_mode"


def user_banned(*, room_id: int, user_id: int) -> None:
    """After commit, close the banned user's sockets in the room with 4403 on
    every worker, if the ban still stands then."""

    def event() -> dict[str, Any] | None:
        if RoomBan.objects.filter(room_id=room_id, user_id=user_id).exists():
            return {"type": ACCESS_REVOKED, "user_id": user_id}
        return None

    send_on_commit(room_group(room_id), event)


def slow_mode_changed(*, room_id: int, seconds: int) -> Push:
    """After commit, tell every socket of the room its slow mode (0: off)."""
    text = frames.slow_mode_frame_text(seconds)
    return send_on_commit(room_group(room_id), {"type": SLOW_MODE, "text": text})
