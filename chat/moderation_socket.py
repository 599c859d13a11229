"""The room socket's moderation frames (`pin`, `report`) and its hello fields
(the pinned list, slow mode), kept beside `ChatConsumer` as a mixin so the
consumer gains a few lines only (docs/protocol.md, "Moderation")."""

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from realtime import ratelimit
from realtime.db import db_call
from realtime.errors import Refused
from realtime.transport import whole_number

from . import frames, moderation, moderation_selectors
from .exceptions import RoomForbidden, RoomNotFound
from .models import Membership, Room


class PinnedCache:
    """A room's pinned list for hello, per room and last seq: a pin, an unpin,
    an edit or a deletion of a pinned message each take the room's next seq, so
    an entry keyed by last seq is never stale; a crowd joining at once costs
    one query. `ttl` bounds what a change outside the services would leave."""

    def __init__(self, rooms: int = 1000, ttl: float = 10.0) -> None:
        self.rooms = rooms
        self.ttl = ttl
        self.entries: OrderedDict[int, tuple[float, int, list[dict[str, Any]]]] = OrderedDict()

    def get(self, room_id: int, last_seq: int) -> list[dict[str, Any]] | None:
        entry = self.entries.get(room_id)
        if entry is None or entry[1] != last_seq or time.monotonic() - entry[0] > self.ttl:
            return None
        self.entries.move_to_end(room_id)
        return entry[2]

    def put(self, room_id: int, last_seq: int, pinned: list[dict[str, Any]]) -> None:
        self.entries[room_id] = (time.monotonic(), last_seq, pinned)
        self.entries.move_to_end(room_id)
        if len(self.entries) > self.rooms:
            self.entries.popitem(last=False)


pinned_cache = PinnedCache()


def hello_fields(room: Room, user: Any, last_seq: int) -> dict[str, Any]:
    """The hello's moderation fields: `pinned` as of `last_seq`, `slow_mode`
    (seconds, as of the socket's open) and, while it is on, whether this user is exempt."""
    pinned = pinned_cache.get(room.pk, last_seq)
    if pinned is None:
        pinned = frames.pinned_list(moderation_selectors.pinned_messages(room=room))
        pinned_cache.put(room.pk, last_seq, pinned)
    fields: dict[str, Any] = {"pinned": pinned, "slow_mode": room.slow_mode_seconds}
    if room.slow_mode_seconds:
        fields["slow_mode_exempt"] = (
            moderation_selectors.moderates_any_room(user)
            or Membership.objects.filter(room=room, user=user, role=Membership.Role.OWNER).exists()
        )
    return fields


@dataclass(frozen=True)
class PinChanged:
    seq: int
    text: str
    acknowledge: bool  # the room's push won't bring it to the actor: answer directly


@db_call
def _pin(room: Room, user: Any, message_id: int, on: bool) -> PinChanged | None:
    stored = moderation.message_pin(room=room, actor=user, message_id=message_id, on=on)
    if stored.event is None:
        return None
    return PinChanged(stored.event.seq, stored.event.text, not stored.reached_room)


@db_call
def _report(room: Room, user: Any, message_id: int, reason: Any) -> int:
    return moderation.report_create(
        room=room, reporter=user, message_id=message_id, reason=reason
    ).pk


class ModerationFrames:
    """`pin` and `report` frames for ChatConsumer (a StreamConsumer)."""

    moderation_frame_handlers = {"pin": "on_pin", "report": "on_report"}

    room: Room
    user: Any

    async def on_pin(self, frame: dict) -> None:
        message_id = _message_id(frame)
        on = frame.get("on")
        if not isinstance(on, bool):
            raise Refused(gettext("on must be true or false."), message_id=message_id)
        if not await ratelimit.admit(
            self, "send", settings.CHAT_SEND_RATE_LIMIT, what="messages", message_id=message_id
        ):
            return
        try:
            changed = await _pin(self.room, self.user, message_id, on)
        except (RoomNotFound, RoomForbidden) as error:
            await self.lost_access(error)  # type: ignore[attr-defined]
            return
        except Refused as error:
            error.extra.setdefault("message_id", message_id)
            raise
        if changed is not None and changed.acknowledge:
            await self.send_item(changed.seq, changed.text)  # type: ignore[attr-defined]

    async def on_report(self, frame: dict) -> None:
        message_id = _message_id(frame)
        if not await ratelimit.admit(
            self, "report", settings.CHAT_REPORT_RATE_LIMIT, what="reports", message_id=message_id
        ):
            return
        try:
            await _report(self.room, self.user, message_id, frame.get("reason"))
        except (RoomNotFound, RoomForbidden) as error:
            await self.lost_access(error)  # type: ignore[attr-defined]
            return
        except Refused as error:
            error.extra.setdefault("message_id", message_id)
            raise
        # Only the reporter hears of it; nobody sees another's report.
        await self.send_frame({"type": "reported", "message_id": message_id})  # type: ignore[attr-defined]


def _message_id(frame: dict) -> int:
    message_id = whole_number(frame.get("message_id"), minimum=1)
    if message_id is None:
        raise Refused(gettext("message_id must be a message id."))
    return message_id
