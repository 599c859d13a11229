"""The wire shapes of what the pages around a room hear live (docs/protocol.md):
the room list's activity and read marks on the user's own stream, and members'
read positions in a room."""

from typing import Any

from realtime.wire import dumps, iso, user_dict, user_fields

from .models import Message
from .selectors import ReadPosition, ReadState

# The room list shows a message's first characters.
EXCERPT_CHARS = 100


def excerpt(body: str) -> str:
    return body if len(body) <= EXCERPT_CHARS else body[: EXCERPT_CHARS - 1] + "…"


def room_activity_frame_text(message: Message, room_slug: str) -> str:
    """A new message, for the room lists of every member (one text for all)."""
    return dumps(
        {
            "type": "room_activity",
            "room": room_slug,
            "message": {
                "seq": message.seq,
                "author": user_dict(message.author),
                "excerpt": excerpt(message.body),
                "created_at": iso(message.created_at),
            },
        }
    )


def room_read_frame_text(state: ReadState) -> str:
    """A member's new read position and unread count, for their own room lists."""
    return dumps(
        {
            "type": "room_read",
            "room": state.room_slug,
            "seq": state.read_seq,
            "unread": state.unread,
            "through_seq": state.through_seq,
        }
    )


def read_position_dict(user: Any, seq: int) -> dict[str, Any]:
    return {"user": user_dict(user), "seq": seq}


def read_positions_list(positions: list[ReadPosition]) -> list[dict[str, Any]]:
    """The hello's `read_positions`, from rows read without the models."""
    return [{"user": user_fields(p.user_id, p.username), "seq": p.seq} for p in positions]


def read_frame_text(user: Any, seq: int) -> str:
    """A member's read position moved, for everyone in the room."""
    return dumps({"type": "read", **read_position_dict(user, seq)})
