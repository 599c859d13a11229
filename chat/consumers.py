"""`/ws/chat/<slug>/`: one room's live socket (docs/protocol.md)."""

import asyncio
import logging
import random
import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from redis.exceptions import RedisError

from realtime import presence, ratelimit, registry
from realtime.db import db_call
from realtime.errors import Refused
from realtime.heartbeat import Rounds
from realtime.stream import Item, Snapshot, StreamConsumer
from realtime.transport import whole_number
from realtime.wire import Close, dumps, user_dict, with_encoded

from . import events, frames, live_frames, moderation_socket, selectors, services, writer
from .exceptions import RoomForbidden, RoomNotFound
from .models import Room
from .moderation_socket import ModerationFrames

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenRoom:
    room: Room
    display_name: str


@db_call
def _open_room(slug: str, user: Any) -> OpenRoom:
    room = selectors.room_for_reader(slug=slug, user=user)
    return OpenRoom(room, selectors.room_display_name(room=room, user=user))


@dataclass(frozen=True)
class LatestMessages:
    """A room's hello messages, encoded once, and what they cover."""

    last_seq: int
    json: str  # a JSON array of message objects, oldest first
    count: int
    truncated: bool  # older ones than `last_seq - count` are left for `history`
    # A resume's stored `update` frames of messages the client had already.
    updates: tuple[str, ...] = ()


K = TypeVar("K")
V = TypeVar("V")


class RecentEntries(Generic[K, V]):
    """At most `size` entries, each good for `ttl` s, the least recently used
    dropped first. The hellos' database threads share them, so every look and
    change holds a lock."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self.entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or time.monotonic() - entry[0] > self.ttl:
                return None
            self.entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V) -> None:
        with self.lock:
            self.entries[key] = (time.monotonic(), value)
            self.entries.move_to_end(key)
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)


class HelloCache:
    """A room's latest messages as JSON, per room and last seq: a crowd joining
    a room at once gets one query and one encoding, not one each. Every change
    to a message (an edit, a deletion, a reaction) is a room event with the next
    seq, so an entry keyed by last seq is never stale; `ttl` bounds what a
    change outside the services (a body edited in a shell) would leave."""

    def __init__(self, rooms: int = 1000, ttl: float = 10.0) -> None:
        self.entries: RecentEntries[int, LatestMessages] = RecentEntries(rooms, ttl)

    def get(self, room_id: int, last_seq: int) -> LatestMessages | None:
        latest = self.entries.get(room_id)
        return latest if latest is not None and latest.last_seq == last_seq else None

    def put(self, room_id: int, latest: LatestMessages) -> None:
        self.entries.put(room_id, latest)


hello_cache = HelloCache()


@dataclass(frozen=True)
class HelloReads:
    latest: LatestMessages
    fields: dict[str, Any]  # read_positions and the moderation fields


@db_call
def _hello_reads(room: Room, user: Any, after: int | None) -> HelloReads:
    """Everything the hello reads from the database, in one trip to the
    database threads (one connection, not one per read; each trip costs
    more CPU than a cached read)."""
    if large_rooms.known(room):
        last_seq = selectors.room_last_seq(room_id=room.pk)
        fields: dict[str, Any] = {}
    else:
        last_seq, shared = selectors.room_last_seq_and_read_positions(room_id=room.pk)
        fields = _read_positions(room, shared)
    latest = _hello_messages(room, after, last_seq)
    fields.update(moderation_socket.hello_fields(room, user, latest.last_seq))
    return HelloReads(latest, fields)


def _hello_messages(room: Room, after: int | None, last_seq: int) -> LatestMessages:
    """Read the hello's messages: every one up to `last_seq` (the room's,
    read after the socket joined the room's group) is in them (or in history,
    when truncated); later ones reach the socket live."""
    if after is None:
        cached = hello_cache.get(room.pk, last_seq)
        if cached is not None:
            return cached
        messages = selectors.messages_latest(room=room, through_seq=last_seq)
        encoded = frames.messages_json(messages, room.slug)
        # Long messages: fewer than 50 fit one frame.
        latest = LatestMessages(
            last_seq, encoded.json, encoded.count, truncated=encoded.count < len(messages)
        )
        hello_cache.put(room.pk, latest)
        return latest
    page = selectors.messages_after(room=room, after=after, through_seq=last_seq)
    encoded = frames.messages_json(page.messages, room.slug)
    # The new messages come in their current state; what changed the older
    # ones comes as the update frames that went out live.
    updates = selectors.updates_for_resume(room=room, after=after, through_seq=last_seq)
    # Cut to fit a frame: the client pages back with `history`, as for 500+.
    cut = page.more or updates.more or encoded.count < len(page.messages)
    texts = tuple(event.text for event in updates.events)
    return LatestMessages(last_seq, encoded.json, encoded.count, cut, texts)


class LargeRooms:
    """Rooms found too large for "Seen by" (their read positions came back as
    None), remembered for `ttl` s in each worker: a crowd joining a large room
    reads that once, not once per hello (each read is its first members' rows
    joined with their users, only to learn that there are too many). A room
    that shrinks to the limit shows read positions at most `ttl` s later. Keyed
    by id and creation time: a room made again with a freed id is another room."""

    def __init__(self, rooms: int = 1000, ttl: float = 10.0) -> None:
        self.found: RecentEntries[tuple[int, Any], bool] = RecentEntries(rooms, ttl)

    def known(self, room: Room) -> bool:
        return self.found.get((room.pk, room.created_at)) is not None

    def add(self, room: Room) -> None:
        self.found.put((room.pk, room.created_at), True)


large_rooms = LargeRooms()


def _read_positions(room: Room, shared: "list[selectors.ReadPosition] | None") -> dict[str, Any]:
    """The hello's `read_positions` in a room small enough for "Seen by"; else nothing."""
    if shared is None:
        large_rooms.add(room)
        return {}
    return {"read_positions": live_frames.read_positions_list(shared)}


class MembersOnline:
    """Which of a room's members have a socket open anywhere ("online anywhere",
    beside `presence`'s "here now"), for the members panel.

    Cost: a lookup reads the room's first MEMBERS_MAX member ids (one indexed
    query) and asks the socket registry about each (one pipelined ZCOUNT per
    member: about 0.1 ms of Redis for 100). It is kept per room for `ttl` s in
    each worker, so a crowd in one room costs one lookup per worker per `ttl`;
    sockets that look while a lookup of their room is under way wait for it
    instead of starting their own. Hello carries the list. After that, every
    `refresh` s (give or take a quarter) each worker looks again for all the
    rooms it has sockets in at once (`watch`, `look_again`: one database
    statement and one round trip to Redis for them all) and hands each room's
    list to every socket of the room in one pass, which sends a frame only to
    those whose list changed. Nothing of it is per socket: no timer, no task,
    no lookup of its own; done room by room, each alone, a lookup cost more
    than a millisecond of CPU. Events when a user's first or last socket
    anywhere opens or closes would be quicker, but would need every socket to
    know the user's rooms (a database read per connect and per disconnect, and
    one publish per room); "online elsewhere" may be up to `refresh + ttl` s
    late, which a hint can afford.
    """

    MEMBERS_MAX = 100

    def __init__(self, ttl: float = 10.0, refresh: float = 30.0, rooms: int = 1000) -> None:
        self.ttl = ttl
        self.refresh = refresh
        self.rooms = rooms
        self.entries: OrderedDict[int, tuple[float, list[int]]] = OrderedDict()
        self.lookups: dict[int, asyncio.Task[list[int]]] = {}  # under way, per room
        # The sockets told their room's list: socket -> its room's id.
        self.watchers: Rounds[int] = Rounds(
            "online anywhere", self.look_again, every=self.next_look
        )

    def next_look(self) -> float:
        """Seconds until the watched rooms are looked at again: `refresh`, give
        or take a quarter (the workers do not all look at the same moment)."""
        return self.refresh * random.uniform(0.75, 1.25)

    async def of(self, room_id: int) -> list[int]:
        """Return the sorted ids of the room's first members online anywhere."""
        entry = self.entries.get(room_id)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            return entry[1]
        lookup = self.lookups.get(room_id)
        if lookup is None or lookup.get_loop() is not asyncio.get_running_loop():
            lookup = asyncio.ensure_future(self._look_up(room_id))
            self.lookups[room_id] = lookup
            lookup.add_done_callback(lambda done: self._looked_up(room_id, done))
        # shielded: a socket that closes while it waits does not cancel the
        # lookup the others wait for.
        return await asyncio.shield(lookup)

    async def _look_up(self, room_id: int) -> list[int]:
        member_ids = await _first_member_ids(room_id, self.MEMBERS_MAX)
        online = sorted(await registry.users_online(member_ids))
        self._keep(room_id, online)
        return online

    def _keep(self, room_id: int, online: list[int]) -> None:
        self.entries[room_id] = (time.monotonic(), online)
        self.entries.move_to_end(room_id)
        if len(self.entries) > self.rooms:
            self.entries.popitem(last=False)

    def _looked_up(self, room_id: int, done: "asyncio.Task[list[int]]") -> None:
        if self.lookups.get(room_id) is done:
            del self.lookups[room_id]
        if not done.cancelled():
            # Its waiters raise the error; marked as seen in case every waiter
            # went away first (asyncio would log it as never retrieved).
            done.exception()

    async def of_rooms(self, room_ids: list[int]) -> dict[int, list[int]]:
        """`of` for many rooms in one go, looked up afresh (and kept, for hellos)."""
        members = await _first_member_ids_of_rooms(room_ids, self.MEMBERS_MAX)
        everyone = sorted({user_id for ids in members.values() for user_id in ids})
        online_anywhere = await registry.users_online(everyone)
        found = {}
        for room_id in room_ids:
            online = sorted(set(members.get(room_id, ())) & online_anywhere)
            self._keep(room_id, online)
            found[room_id] = online
        return found

    def watch(self, room_id: int, socket: "ChatConsumer") -> None:
        """Tell `socket` the room's list from now on, whenever it changes."""
        self.watchers.watch(socket, room_id)

    def unwatch(self, socket: "ChatConsumer") -> None:
        self.watchers.unwatch(socket)

    async def look_again(self) -> None:
        """Look at every watched room again and tell their sockets."""
        rooms: dict[int, list[ChatConsumer]] = {}
        for socket, room_id in self.watchers.sockets.items():
            rooms.setdefault(room_id, []).append(socket)
        if not rooms:
            return
        # Redis or the database away: the heartbeat logs it, the next look may
        # find them back.
        found = await self.of_rooms(list(rooms))
        for room_id, online in found.items():
            # One event for the room's sockets: its frame is built once and
            # framed once for all of them (realtime.fastsend).
            event = {
                "type": MEMBERS_ONLINE,
                "online": online,
                "text": dumps({"type": "members_online", "online": online}),
            }
            for socket in rooms[room_id]:
                try:
                    socket.deliver(event)
                except Exception:
                    # One socket's failure must not keep the others uninformed.
                    logger.exception("members online: delivery failed")
            # Room by room, with the loop's other work in between: every socket
            # of the worker may have a frame to send.
            await asyncio.sleep(0)


# The worker's own event to a room's sockets (never through the channel layer).
MEMBERS_ONLINE = "chat.members_online"


@db_call
def _first_member_ids(room_id: int, limit: int) -> list[int]:
    return selectors.first_member_ids(room_id=room_id, limit=limit)


@db_call
def _first_member_ids_of_rooms(room_ids: list[int], limit: int) -> dict[int, list[int]]:
    return selectors.first_member_ids_of_rooms(room_ids=room_ids, limit=limit)


members_online = MembersOnline()


@dataclass(frozen=True)
class Sent:
    seq: int
    text: str  # the frame (empty when there is nothing to acknowledge)
    acknowledge: bool  # the room's push won't bring it to the sender: answer directly


async def _answer_to_send(stored: "asyncio.Future[services.MessageStored]", slug: str) -> Sent:
    """Wait for a queued send (chat.writer) and return what its sender gets."""
    message = await stored
    # A resend gets the original back on this socket only; a message the layer
    # could not take (Redis away) is stored, so it is acknowledged here and the
    # others get it when their sockets resync.
    if message.reached_room:
        return Sent(message.message.seq, "", acknowledge=False)
    return await _acknowledgement(message.message.pk, slug)


@db_call
def _acknowledgement(message_id: int, slug: str) -> Sent:
    message = selectors.message_state(message_id=message_id)
    return Sent(message.seq, frames.message_frame_text(message, slug), acknowledge=True)


def _changed(stored: services.EventStored) -> Sent | None:
    """Return what to answer the actor directly: nothing when nothing changed
    or the room's push brings it (the actor's socket is in the room)."""
    if stored.event is None:
        return None
    return Sent(stored.event.seq, stored.event.text, acknowledge=not stored.reached_room)


@db_call
def _edit(room: Room, user: Any, message_id: int, body: Any) -> Sent | None:
    return _changed(services.message_edit(room=room, actor=user, message_id=message_id, body=body))


@db_call
def _delete(room: Room, user: Any, message_id: int) -> Sent | None:
    return _changed(services.message_delete(room=room, actor=user, message_id=message_id))


@db_call
def _react(room: Room, user: Any, message_id: int, emoji: Any, on: bool) -> Sent | None:
    return _changed(
        services.message_react(room=room, actor=user, message_id=message_id, emoji=emoji, on=on)
    )


@db_call
def _missed(room: Room, user: Any, after: int) -> list[Item]:
    selectors.room_for_reader(slug=room.slug, user=user)
    page = selectors.events_after(room=room, after=after)
    return [Item(event.seq, event.text) for event in page.events]


@dataclass(frozen=True)
class EventsPage:
    json: str  # a JSON array of stored frames, oldest first
    has_more: bool


@db_call
def _catch_up(room: Room, user: Any, after: int) -> EventsPage:
    selectors.room_for_reader(slug=room.slug, user=user)
    page = selectors.events_after(room=room, after=after)
    encoded = frames.encoded_events([event.text for event in page.events])
    return EventsPage(encoded.json, page.more or encoded.count < len(page.events))


@dataclass(frozen=True)
class HistoryPage:
    json: str  # a JSON array of message objects, oldest first
    has_more: bool


@db_call
def _history(room: Room, user: Any, before_seq: int | None, limit: int) -> HistoryPage:
    # Re-check on every frame: access may have been removed since connect.
    selectors.room_for_reader(slug=room.slug, user=user)
    page = selectors.messages_before(room=room, before_seq=before_seq, limit=limit)
    encoded = frames.messages_json(page.messages, room.slug)
    return HistoryPage(encoded.json, page.more or encoded.count < len(page.messages))


@db_call
def _read(room: Room, user: Any, seq: int) -> None:
    services.room_mark_read(room=room, user=user, seq=seq)


def _message_id(frame: dict) -> int:
    """Return the frame's message_id, or refuse the frame."""
    message_id = whole_number(frame.get("message_id"), minimum=1)
    if message_id is None:
        raise Refused(_("message_id must be a message id."))
    return message_id


class ChatConsumer(ModerationFrames, StreamConsumer):
    kind = "chat"
    pipelined_frames = frozenset({"send"})
    frame_handlers = {
        "send": "on_send",
        "history": "on_history",
        "typing": "on_typing",
        "read": "on_read",
        "edit": "on_edit",
        "delete": "on_delete",
        "react": "on_react",
        "catch_up": "on_catch_up",
        "ping": "on_ping",
        **ModerationFrames.moderation_frame_handlers,
    }
    event_forwarders = {
        events.MESSAGE: "forward_message",
        events.UPDATE: "forward_message",
        events.PRESENCE: "forward_text",
        events.TYPING: "forward_typing",
        events.READ: "forward_read",
        events.SLOW_MODE: "forward_text",
        MEMBERS_ONLINE: "forward_members_online",
    }
    counted_online = False
    watching_members = False
    last_typing = 0.0

    # The stream (realtime.stream).

    async def open_stream(self) -> None:
        opened = await _open_room(self.scope["url_route"]["kwargs"]["slug"], self.user)
        self.room, self.display_name = opened.room, opened.display_name
        self.group = events.room_group(self.room.pk)

    def stream_groups(self) -> list[str]:
        return [self.group]

    async def joined(self) -> None:
        self.here = await presence.join(self.group, self.user, self._announce_online)
        self.counted_online = True

    async def snapshot(self, after: int | None) -> Snapshot:
        reads = await _hello_reads(self.room, self.user, after)
        latest = reads.latest
        hello = {
            "type": "hello",
            "room": frames.room_dict(self.room, self.display_name),
            "user": user_dict(self.user),
            "last_seq": latest.last_seq,
            "online_count": self.here.count,
        }
        hello.update(reads.fields)
        hello.update(await self._members_online_fields())
        if latest.truncated:
            hello["truncated"] = True
        # The online list and the messages are the same for a crowd joining at
        # once: encoded once, embedded in each hello.
        text = with_encoded(hello, online=self.here.users_json(), messages=latest.json)
        return Snapshot(
            text,
            position=latest.last_seq,
            replayed=latest.count + len(latest.updates),
            follow=latest.updates,
        )

    async def replay(self, after: int) -> list[Item]:
        return await _missed(self.room, self.user, after)

    async def release_more(self) -> None:
        if self.watching_members:
            self.watching_members = False
            members_online.unwatch(self)
        if self.counted_online:
            self.counted_online = False
            await presence.leave(self.group, self.user)

    def log_fields(self) -> dict:
        return {"room_id": self.room.pk}

    # "Online anywhere" (MembersOnline): in hello, then a frame when it changes.

    members_online_sent: list[int] | None = None

    async def _members_online_fields(self) -> dict[str, Any]:
        try:
            self.members_online_sent = await members_online.of(self.room.pk)
        except (OSError, RedisError):
            logger.warning("online anywhere unavailable (redis)")
            return {}
        return {"members_online": self.members_online_sent}

    async def mark_ready(self) -> None:
        await super().mark_ready()
        if not self.released:
            members_online.watch(self.room.pk, self)
            self.watching_members = True

    def forward_members_online(self, event: dict) -> str | None:
        """The room's list (MembersOnline.watch), sent only when it changed."""
        if event["online"] == self.members_online_sent:
            return None
        self.members_online_sent = event["online"]
        return event["text"]

    async def _announce_online(self, here: presence.Online) -> None:
        await events.presence_changed(room_id=self.room.pk, online=here.users, count=here.count)

    # Client frames.

    async def on_send(self, frame: dict) -> Coroutine[Any, Any, None] | None:
        reply_to = frame.get("reply_to")
        if reply_to is not None and whole_number(reply_to, minimum=1) is None:
            raise Refused(_("reply_to must be a message id."))
        if not await ratelimit.admit(
            self, "send", settings.CHAT_SEND_RATE_LIMIT, what=pgettext_lazy("too many", "messages")
        ):
            return None
        # Stored with the other sockets' sends waiting (chat.writer: group
        # commit); this socket reads its next frame meanwhile (pipelined_frames),
        # so a client's sends in a row share a batch and their frames a write.
        stored = writer.queue_message(
            room=self.room,
            author=self.user,
            body=frame.get("body"),
            client_id=frame.get("client_id"),
            reply_to=reply_to,
            attachment_ids=frame.get("attachment_ids"),
        )
        return self._answer_send(stored)

    async def _answer_send(self, stored: "asyncio.Future[services.MessageStored]") -> None:
        try:
            sent = await _answer_to_send(stored, self.room.slug)
        except (RoomNotFound, RoomForbidden) as error:
            await self.lost_access(error)
            return
        if sent.acknowledge:
            await self.send_item(sent.seq, sent.text)

    async def on_edit(self, frame: dict) -> None:
        message_id = _message_id(frame)
        body = frame.get("body")
        await self._change(message_id, lambda: _edit(self.room, self.user, message_id, body))

    async def on_delete(self, frame: dict) -> None:
        message_id = _message_id(frame)
        await self._change(
            message_id, lambda: _delete(self.room, self.user, message_id), rate_limited=False
        )

    async def on_react(self, frame: dict) -> None:
        message_id = _message_id(frame)
        on = frame.get("on")
        if not isinstance(on, bool):
            raise Refused(_("on must be true or false."), message_id=message_id)
        emoji = frame.get("emoji")
        await self._change(message_id, lambda: _react(self.room, self.user, message_id, emoji, on))

    async def _change(
        self,
        message_id: int,
        change: Callable[[], Awaitable[Sent | None]],
        rate_limited: bool = True,
    ) -> None:
        """Make a change to a message: edits and reactions count toward the
        send rate; every refusal echoes the frame's message_id."""
        if rate_limited and not await ratelimit.admit(
            self,
            "send",
            settings.CHAT_SEND_RATE_LIMIT,
            what=pgettext_lazy("too many", "messages"),
            message_id=message_id,
        ):
            return
        try:
            sent = await change()
        except (RoomNotFound, RoomForbidden) as error:
            await self.lost_access(error)
            return
        except Refused as error:
            error.extra.setdefault("message_id", message_id)
            raise
        if sent is not None and sent.acknowledge:
            await self.send_item(sent.seq, sent.text)

    async def on_catch_up(self, frame: dict) -> None:
        after = whole_number(frame.get("after"))
        if after is None:
            raise Refused(_("after must be a non-negative whole number."))
        # A page of events costs what a page of history does.
        if not await ratelimit.admit(
            self,
            "history",
            settings.CHAT_HISTORY_RATE_LIMIT,
            what=pgettext_lazy("too many", "history pages"),
            after=after,
        ):
            return
        try:
            page = await _catch_up(self.room, self.user, after)
        except (RoomNotFound, RoomForbidden) as error:
            await self.lost_access(error)
            return
        head = {"type": "catch_up", "after": after, "has_more": page.has_more}
        await self.send(text_data=with_encoded(head, events=page.json))

    async def on_history(self, frame: dict) -> None:
        before_seq = frame.get("before_seq")
        limit = frame.get("limit", 50)
        if before_seq is not None and whole_number(before_seq) is None:
            raise Refused(_("before_seq must be a non-negative whole number."))
        if whole_number(limit) is None or not 1 <= limit <= selectors.HISTORY_MAX:
            raise Refused(_("limit must be 1 to %(max)s.") % {"max": selectors.HISTORY_MAX})
        # Refusals echo before_seq, as the page would: the client knows which request waits.
        if not await ratelimit.admit(
            self,
            "history",
            settings.CHAT_HISTORY_RATE_LIMIT,
            what=pgettext_lazy("too many", "history pages"),
            before_seq=before_seq,
        ):
            return
        try:
            page = await _history(self.room, self.user, before_seq, limit)
        except (RoomNotFound, RoomForbidden) as error:
            await self.lost_access(error)
            return
        if not await ratelimit.admit(
            self,
            "history_bytes",
            settings.CHAT_HISTORY_BYTES_LIMIT,
            what=pgettext_lazy("too many", "history bytes"),
            cost=len(page.json.encode()),
            before_seq=before_seq,
        ):
            return
        head = {"type": "history", "before_seq": before_seq, "has_more": page.has_more}
        await self.send(text_data=with_encoded(head, messages=page.json))

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
        seq = whole_number(frame.get("seq"))
        if seq is None:
            raise Refused(_("seq must be a non-negative whole number."))
        if not await ratelimit.admit(
            self,
            "read",
            settings.REALTIME_READ_RATE_LIMIT,
            what=pgettext_lazy("too many", "read marks"),
        ):
            return
        try:
            await _read(self.room, self.user, seq)
        except RoomNotFound as error:
            await self.lost_access(error)

    # Channel-layer events: forward the text serialized once by chat.events.

    def forward_message(self, event: dict) -> str | None:
        return self.forward_item(event["seq"], event["text"])

    def forward_text(self, event: dict) -> str:
        return event["text"]

    def forward_typing(self, event: dict) -> str | None:
        return event["text"] if event["sender"] != self.channel_name else None

    def forward_read(self, event: dict) -> str | None:
        # The reader knows how far they read: their own sockets are not told.
        return event["text"] if event["user_id"] != self.user_id else None

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
            await self.lost_access(RoomForbidden())

    async def chat_room_deleted(self, event: dict) -> None:
        await self.end(Close.NOT_FOUND)
