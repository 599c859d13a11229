"""`/ws/chat/<slug>/`: one room's live socket (docs/protocol.md)."""

import logging
import time
from bisect import bisect_left
from collections import OrderedDict

from django.conf import settings

from realtime import metrics, presence, ratelimit
from realtime.consumers import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    FrameError,
    RealtimeConsumer,
    client_id_of,
    dumps,
)
from realtime.db import db_call

from . import events, frames, selectors, services
from .exceptions import Rejected, RoomForbidden, RoomNotFound

logger = logging.getLogger(__name__)


def _non_negative_int(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


@db_call
def _load_room(slug: str, user):
    room = selectors.room_for_reader(slug=slug, user=user)
    return room, selectors.room_display_name(room=room, user=user)


# Room id -> (last seq, when, JSON of its latest messages, how many, cut): a crowd joining a room
# at once gets one query and one encoding, not one each. Messages never change
# once stored (the admin may edit a body: the entry lives HELLO_CACHE_SECONDS).
_latest_json: OrderedDict[int, tuple[int, float, str, int, bool]] = OrderedDict()
HELLO_CACHE_ROOMS = 1000
HELLO_CACHE_SECONDS = 10.0


@db_call
def _hello_messages(room, after: int | None) -> tuple[str, int, bool, int]:
    """Return (JSON array of the hello's messages, how many, truncated, last seq).

    Every message up to `last seq` is in the array (or in history, when
    truncated); later ones reach the socket live, as it joined the room first.
    """
    last_seq = type(room).objects.filter(pk=room.pk).values_list("last_seq", flat=True).get()
    if after is None:
        cached = _latest_json.get(room.pk)
        if cached and cached[0] == last_seq and time.monotonic() - cached[1] < HELLO_CACHE_SECONDS:
            _latest_json.move_to_end(room.pk)
            return cached[2], cached[3], cached[4], last_seq
        messages = selectors.messages_latest(room=room, through_seq=last_seq)
        text, count = frames.messages_json(messages, room.slug)
        cut = count < len(messages)  # long messages: fewer than 50 fit one frame
        _latest_json[room.pk] = (last_seq, time.monotonic(), text, count, cut)
        if len(_latest_json) > HELLO_CACHE_ROOMS:
            _latest_json.popitem(last=False)
        return text, count, cut, last_seq
    messages, truncated = selectors.messages_after(room=room, after=after, through_seq=last_seq)
    text, count = frames.messages_json(messages, room.slug)
    # Cut to fit a frame: the client pages back with `history`, as for 500+.
    return text, count, truncated or count < len(messages), last_seq


@db_call
def _send_message(room, user, body, client_id) -> tuple[str, int, bool, bool]:
    """Store; return (frame text, seq, created, pushed to the room)."""
    message, created = services.message_create(
        room=room, author=user, body=body, client_id=client_id
    )
    pushed = getattr(message, "pushed", False)
    return frames.message_frame_text(message, room.slug), message.seq, created, pushed


@db_call
def _missed(room, user, after: int) -> list[tuple[int, str]]:
    selectors.room_for_reader(slug=room.slug, user=user)
    messages, _ = selectors.messages_after(room=room, after=after)
    return [(m.seq, frames.message_frame_text(m, room.slug)) for m in messages]


@db_call
def _history(room, user, before_seq, limit) -> tuple[str, bool]:
    """Return (JSON array of the page, whether older messages remain)."""
    # Re-check on every frame: access may have been removed since connect.
    selectors.room_for_reader(slug=room.slug, user=user)
    messages, has_more = selectors.messages_before(room=room, before_seq=before_seq, limit=limit)
    text, count = frames.messages_json(messages, room.slug)
    return text, has_more or count < len(messages)


@db_call
def _read(room, user, seq: int) -> None:
    services.room_mark_read(room=room, user=user, seq=seq)


class ChatConsumer(RealtimeConsumer):
    kind = "chat"
    counted_online = False
    frame_handlers = {
        "send": "on_send",
        "history": "on_history",
        "typing": "on_typing",
        "read": "on_read",
        "ping": "on_ping",
    }
    event_forwarders = {
        "chat.message": "forward_message",
        "chat.presence": "forward_text",
        "chat.typing": "forward_typing",
    }

    async def start(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            self.room, display_name = await _load_room(slug, self.user)
        except RoomNotFound:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        except RoomForbidden:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.last_typing = 0.0
        self.group = events.room_group(self.room.pk)
        after, after_given = self.after_param()

        await self.accept()
        # Join before reading history: a message committed in between then
        # arrives both ways, and the client drops the duplicate by seq.
        await self.join_group(self.group)
        here, _ = await presence.join(self.group, self.user, self._announce_online)
        self.counted_online = True
        messages_json, count, truncated, last_seq = await _hello_messages(self.room, after)
        # What this socket has been given: every seq up to `delivered_upto`,
        # plus the ones in `delivered_above` (live frames can come out of order).
        self.delivered_upto = last_seq
        self.delivered_above: set[int] = set()
        hello = {
            "type": "hello",
            "room": frames.room_dict(self.room, display_name),
            "user": frames.user_dict(self.user),
            "last_seq": last_seq,
            "online": here.users,
            "online_count": here.count,
        }
        if truncated:
            hello["truncated"] = True
        if after is not None:
            metrics.resumes.labels(self.kind, metrics.WORKER).inc()
            metrics.resume_replayed.labels(self.kind, metrics.WORKER).inc(count)
        if after_given and after is None:
            await self.send_error("invalid", "after must be a non-negative whole number.")
        # The messages are spliced in as JSON encoded once (and cached).
        await self.send(text_data=dumps(hello)[:-1] + ',"messages":' + messages_json + "}")
        await self.mark_ready()

    async def release_more(self) -> None:
        if self.counted_online:
            self.counted_online = False
            await presence.leave(self.group, self.user)

    def log_fields(self) -> dict:
        return {"room_id": self.room.pk}

    async def _announce_online(self, here: presence.Online) -> None:
        await events.presence_changed(room_id=self.room.pk, online=here.users, count=here.count)

    # Client frames.

    async def on_send(self, frame: dict) -> None:
        client_id = client_id_of(frame)
        if not await ratelimit.admit(
            self, "send", settings.CHAT_SEND_RATE_LIMIT, what="messages", client_id=client_id
        ):
            return
        try:
            text, seq, created, pushed = await _send_message(
                self.room, self.user, frame.get("body"), frame.get("client_id")
            )
        except Rejected as error:
            raise FrameError(error.code, error.detail, client_id) from None
        except RoomForbidden:
            await self._revoke()
            return
        except RoomNotFound:
            await self._room_gone()
            return
        if not created or not pushed:
            # A resend gets the original back on this socket only; a message the
            # layer could not take (Redis away) is stored, so it is acknowledged
            # here and the others get it when their sockets resync.
            await self._forward(seq, text)

    async def on_history(self, frame: dict) -> None:
        before_seq = frame.get("before_seq")
        limit = frame.get("limit", 50)
        if before_seq is not None and (_non_negative_int(before_seq) is None):
            raise FrameError("invalid", "before_seq must be a non-negative whole number.")
        if _non_negative_int(limit) is None or not 1 <= limit <= selectors.HISTORY_MAX:
            raise FrameError("invalid", f"limit must be 1 to {selectors.HISTORY_MAX}.")
        # Refusals echo before_seq, as the page would: the client knows which request waits.
        if not await ratelimit.admit(
            self,
            "history",
            settings.CHAT_HISTORY_RATE_LIMIT,
            what="history pages",
            before_seq=before_seq,
        ):
            return
        try:
            messages_json, has_more = await _history(self.room, self.user, before_seq, limit)
        except (RoomForbidden, RoomNotFound):
            await self._revoke()
            return
        if not await ratelimit.admit(
            self,
            "history_bytes",
            settings.CHAT_HISTORY_BYTES_LIMIT,
            what="history bytes",
            cost=len(messages_json.encode()),
            before_seq=before_seq,
        ):
            return
        head = dumps({"type": "history", "before_seq": before_seq, "has_more": has_more})
        await self.send(text_data=head[:-1] + ',"messages":' + messages_json + "}")

    async def on_typing(self, frame: dict) -> None:
        # Over the limit, typing is dropped silently: it is only a hint. The
        # socket's own clock turns away a flood before it costs a Redis call.
        now = time.monotonic()
        if now - self.last_typing < ratelimit.spacing(settings.CHAT_TYPING_RATE_LIMIT):
            return
        self.last_typing = now
        typing = await ratelimit.take("typing", self.user.pk, settings.CHAT_TYPING_RATE_LIMIT)
        if not typing.allowed:
            return
        await events.typing(room_id=self.room.pk, user=self.user, sender_channel=self.channel_name)

    async def on_read(self, frame: dict) -> None:
        seq = _non_negative_int(frame.get("seq"))
        if seq is None:
            raise FrameError("invalid", "seq must be a non-negative whole number.")
        if not await ratelimit.admit(
            self, "read", settings.REALTIME_READ_RATE_LIMIT, what="read marks"
        ):
            return
        try:
            await _read(self.room, self.user, seq)
        except RoomNotFound:
            await self._room_gone()

    async def _room_gone(self) -> None:
        self.ready = False
        await self.close(code=CLOSE_NOT_FOUND)

    async def _revoke(self) -> None:
        metrics.frames_refused.labels("forbidden", metrics.WORKER).inc()
        self.ready = False
        await self.close(code=CLOSE_FORBIDDEN)

    # Channel-layer events: forward the text serialized once by chat.events.

    def forward_message(self, event: dict) -> str:
        self._record(event["seq"])
        return event["text"]

    def forward_text(self, event: dict) -> str:
        return event["text"]

    def forward_typing(self, event: dict) -> str | None:
        return event["text"] if event["sender"] != self.channel_name else None

    async def _forward(self, seq: int, text: str) -> None:
        """Send a message frame this socket alone sends (a resend, a resync)."""
        await self.send(text_data=text)
        self._record(seq)

    def _record(self, seq: int) -> None:
        if seq == self.delivered_upto + 1:
            self.delivered_upto = seq
            while self.delivered_upto + 1 in self.delivered_above:
                self.delivered_upto += 1
                self.delivered_above.discard(self.delivered_upto)
        elif seq > self.delivered_upto:
            self.delivered_above.add(seq)

    async def resync(self) -> None:
        """Forward the stored messages this socket has not been given, once
        its login and its access to the room are checked again (a logout or a
        removal may have gone unheard while Redis was away)."""
        if not await self.login_still_valid():
            await self.realtime_session_ended({})
            return
        try:
            missed = await _missed(self.room, self.user, self.delivered_upto)
        except (RoomForbidden, RoomNotFound):
            await self._revoke()
            return
        for seq, text in missed:
            if seq > self.delivered_upto and seq not in self.delivered_above and self.ready:
                await self._forward(seq, text)

    async def chat_access_revoked(self, event: dict) -> None:
        # chat.events decided on the committed data who lost access: no database
        # read here, or a room made private would cost one for each of its sockets.
        if "keep" in event:  # the room's members, sorted: everyone else goes
            keep = event["keep"]
            at = bisect_left(keep, self.user.pk)
            revoked = at == len(keep) or keep[at] != self.user.pk
        else:
            revoked = event["user_id"] == self.user.pk
        if revoked:
            await self._revoke()

    async def chat_room_deleted(self, event: dict) -> None:
        await self._room_gone()
