"""The only place chat events are built and sent to the channel layer
(realtime.push: after commit, one failure policy)."""

from typing import Any

from realtime.push import Push, send_now, send_on_commit

from . import frames, selectors
from .models import RoomEvent

MESSAGE = "chat.message"
UPDATE = "chat.update"
TYPING = "chat.typing"
PRESENCE = "chat.presence"
ACCESS_REVOKED = "chat.access_revoked"
ROOM_DELETED = "chat.room_deleted"


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
