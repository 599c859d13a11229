"""The wire shapes of chat data (docs/protocol.md)."""

from dataclasses import dataclass
from typing import Any

from realtime.wire import dumps, iso, user_dict

from .models import Message, Room


def message_dict(message: Message, room_slug: str) -> dict[str, Any]:
    return {
        "id": message.pk,
        "seq": message.seq,
        "room": room_slug,
        "author": user_dict(message.author),
        "body": message.body,
        "created_at": iso(message.created_at),
        "client_id": message.client_id,
    }


# A frame must stay well under the WebSocket layer's limit (Daphne: 1 MiB); a
# message body of 4,000 characters can take 24 KB of JSON.
FRAME_MESSAGES_BUDGET = 512 * 1024


@dataclass(frozen=True)
class EncodedMessages:
    json: str  # a JSON array of message objects, oldest first
    count: int  # how many of the messages it holds (the newest)


def messages_json(messages: list[Message], room_slug: str) -> EncodedMessages:
    """Serialize messages (oldest first) for embedding in a frame: the newest that
    fit FRAME_MESSAGES_BUDGET bytes, at least one."""
    kept: list[str] = []
    size = 2
    for message in reversed(messages):
        item = dumps(message_dict(message, room_slug))
        size += len(item.encode()) + 1
        if kept and size > FRAME_MESSAGES_BUDGET:
            break
        kept.append(item)
    return EncodedMessages("[" + ",".join(reversed(kept)) + "]", len(kept))


def message_frame_text(message: Message, room_slug: str) -> str:
    """Serialize a `message` frame once; every socket forwards the same text."""
    return dumps({"type": "message", "message": message_dict(message, room_slug)})


def typing_frame_text(user: Any) -> str:
    return dumps({"type": "typing", "user": user_dict(user)})


def presence_frame_text(online: list[dict], count: int) -> str:
    return dumps({"type": "presence", "online": online, "online_count": count})


def room_dict(room: Room, display_name: str) -> dict[str, Any]:
    return {"slug": room.slug, "name": display_name, "kind": room.kind}
