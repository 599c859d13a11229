"""The wire shapes of chat data (docs/protocol.md)."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from realtime.wire import dumps, iso, user_dict

from .attachments import attachment_dict
from .models import Message, Reaction, Room

EXCERPT_MAX = 140
REACTION_USERS_MAX = 50


def message_dict(message: Message, room_slug: str) -> dict[str, Any]:
    """Return a message's whole current state. Reactions and the replied-to
    message are read from what the query prefetched (selectors.with_state)."""
    deleted = message.deleted
    return {
        "id": message.pk,
        "seq": message.seq,
        "room": room_slug,
        "author": user_dict(message.author),
        "body": "" if deleted else message.body,
        "created_at": iso(message.created_at),
        "client_id": message.client_id,
        "html": "" if deleted else message.html,
        "reply_to": None if deleted else reply_dict(message.reply_to),
        "edited_at": iso(message.edited_at) if message.edited_at else None,
        "deleted": deleted,
        "reactions": [] if deleted else reactions_list(message.reactions.all()),
        "attachments": [] if deleted else [attachment_dict(a) for a in message.attachments.all()],
    }


def reply_dict(replied: Message | None) -> dict[str, Any] | None:
    if replied is None:
        return None
    return {
        "id": replied.pk,
        "seq": replied.seq,
        "author": user_dict(replied.author),
        "excerpt": "" if replied.deleted else excerpt(replied.body),
        "deleted": replied.deleted,
    }


def excerpt(body: str) -> str:
    return body if len(body) <= EXCERPT_MAX else body[: EXCERPT_MAX - 1] + "…"


def reactions_list(reactions: Iterable[Reaction]) -> list[dict[str, Any]]:
    """Group reactions (oldest first) by emoji, in the order each emoji first came."""
    grouped: dict[str, dict[str, Any]] = {}
    for reaction in sorted(reactions, key=lambda r: r.pk):
        entry = grouped.setdefault(
            reaction.emoji, {"emoji": reaction.emoji, "count": 0, "user_ids": []}
        )
        entry["count"] += 1
        if len(entry["user_ids"]) < REACTION_USERS_MAX:
            entry["user_ids"].append(reaction.user_id)
    return list(grouped.values())


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


def update_frame_text(seq: int, kind: str, message: Message, room_slug: str) -> str:
    """Serialize an `update` frame once: the message's whole state after the change."""
    return dumps(
        {"type": "update", "seq": seq, "kind": kind, "message": message_dict(message, room_slug)}
    )


def event_frame_text(seq: int, kind: str, message: Message, room_slug: str) -> str:
    """Return the frame a room event goes out as: `message` for a new one, else `update`."""
    if kind == "message":
        return message_frame_text(message, room_slug)
    return update_frame_text(seq, kind, message, room_slug)


def with_message_deleted(text: str, deleted: Message, room_slug: str) -> str:
    """Return a stored frame with what it shows of `deleted` (a message now
    deleted) replaced by its deleted state: the frame of one of its own events
    carries the message as it is now, a reply to it an empty excerpt."""
    frame = json.loads(text)
    if frame["message"]["id"] == deleted.pk:
        frame["message"] = message_dict(deleted, room_slug)
    else:
        frame["message"]["reply_to"] = reply_dict(deleted)
    return dumps(frame)


def encoded_events(texts: list[str]) -> EncodedMessages:
    """Serialize stored frames (oldest first) as a JSON array: the oldest that
    fit FRAME_MESSAGES_BUDGET bytes, at least one (the client asks again for the rest)."""
    kept: list[str] = []
    size = 2
    for text in texts:
        size += len(text.encode()) + 1
        if kept and size > FRAME_MESSAGES_BUDGET:
            break
        kept.append(text)
    return EncodedMessages("[" + ",".join(kept) + "]", len(kept))


def typing_frame_text(user: Any) -> str:
    return dumps({"type": "typing", "user": user_dict(user)})


def presence_frame_text(online: list[dict], count: int) -> str:
    return dumps({"type": "presence", "online": online, "online_count": count})


def room_dict(room: Room, display_name: str) -> dict[str, Any]:
    return {"slug": room.slug, "name": display_name, "kind": room.kind}


def slow_mode_frame_text(seconds: int) -> str:
    """A room's slow mode: the seconds a member waits between messages (0: off)."""
    return dumps({"type": "slow_mode", "seconds": seconds})


def pinned_list(messages: list[Message]) -> list[dict[str, Any]]:
    """The pinned messages in `hello`, newest pin first: what the header shows
    (an excerpt, not the whole body: 50 long pins must not fill the frame)."""
    return [
        {
            "id": message.pk,
            "seq": message.seq,
            "author": user_dict(message.author),
            "excerpt": excerpt(message.body),
            "created_at": iso(message.created_at),
        }
        for message in messages
    ]
