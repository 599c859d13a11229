"""The resumable stream, written once: every socket that forwards stored data
(a room's messages, a user's notifications) opens, resumes, de-duplicates and
catches up the same way (docs/protocol.md, "Resume" and "Hello").

1. `?after=` is read (a bad one is answered with an `error` frame after hello).
2. The stream is opened (`open_stream`: the room, with its access check), the
   socket accepted and joined to the stream's groups (`stream_groups`, then
   `joined`), and only then the snapshot read (`snapshot`): an item committed
   in between arrives both in the snapshot and live, never in neither.
3. Hello goes out, then whatever arrived live meanwhile; the socket's cursor
   drops what hello already had.
4. After the channel layer lost events (Redis away), `resync` replays from the
   cursor what is stored, once the login and the access are checked again.

A subclass declares its groups, its snapshot, its replay and its cursor.
"""

import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from django.utils.translation import gettext as _

from . import metrics
from .errors import Refused
from .transport import SocketConsumer, close_code_for
from .wire import ID_MAX

logger = logging.getLogger(__name__)


class GaplessCursor:
    """What a socket was given of a stream numbered without gaps (a room's
    seq): everything up to `position`, plus `above` (live items can arrive out
    of order across workers). Stays a few numbers however long it runs."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.above: set[int] = set()

    def take(self, number: int) -> bool:
        """Record `number` as given; return False if it was given already."""
        if number <= self.position or number in self.above:
            return False
        self.record(number)
        return True

    def record(self, number: int) -> None:
        if number == self.position + 1:
            self.position = number
            while self.position + 1 in self.above:
                self.position += 1
                self.above.discard(self.position)
        elif number > self.position:
            self.above.add(number)


class SparseCursor:
    """What a socket was given of a stream whose numbers have gaps (a user's
    notification ids, drawn from one table for everyone): everything up to
    `position` (the snapshot), plus the last `memory` numbers given since."""

    def __init__(self, position: int, memory: int = 512) -> None:
        self.position = position
        self.memory = memory
        self.given: dict[int, None] = {}  # insertion-ordered: the oldest go first

    def take(self, number: int) -> bool:
        if number <= self.position or number in self.given:
            return False
        self.record(number)
        return True

    def record(self, number: int) -> None:
        self.given[number] = None
        if len(self.given) > self.memory:
            del self.given[next(iter(self.given))]


Cursor = GaplessCursor | SparseCursor


@dataclass(frozen=True)
class Snapshot:
    """The hello frame, as sent, and what it covers."""

    text: str
    position: int  # the stream's newest number the hello accounts for
    replayed: int  # items it carries (counted for resumes)
    # Frames that go right after hello, before anything live (a resume's
    # changes to items the client already has), in order.
    follow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    """One stored item of a stream, as its frame text."""

    number: int
    text: str


def after_param(query_string: bytes) -> tuple[int | None, bool]:
    """Return (`?after=` as a number or None, whether one was given)."""
    query = parse_qs(query_string.decode("latin-1"))
    raw = (query.get("after") or [""])[0]
    # A bound on the digits before int(): Python refuses over 4,300.
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= ID_MAX:
        return int(raw), True
    return None, bool(raw)


class StreamConsumer(SocketConsumer):
    cursor: Cursor

    async def start(self) -> None:
        after, after_given = after_param(self.scope.get("query_string", b""))
        try:
            await self.open_stream()
        except Refused as error:
            await self.refuse(close_code_for(error))
            return
        await self.accept()
        for group in self.stream_groups():
            await self.join_group(group)
        await self.joined()
        snapshot = await self.snapshot(after)
        self.cursor = self.new_cursor(snapshot.position)
        if after is not None:
            metrics.here(metrics.resumes, self.kind).inc()
            metrics.here(metrics.resume_replayed, self.kind).inc(snapshot.replayed)
        if after_given and after is None:
            await self.send_error("invalid", _("after must be a non-negative whole number."))
        await self.send(text_data=snapshot.text)
        for text in snapshot.follow:
            await self.send(text_data=text)
        await self.mark_ready()

    # What a stream declares.

    async def open_stream(self) -> None:
        """Load what the stream is of; raise NotFound or Forbidden to refuse."""

    def stream_groups(self) -> list[str]:
        raise NotImplementedError

    async def joined(self) -> None:
        """Register what else the stream needs before its snapshot is read."""

    async def snapshot(self, after: int | None) -> Snapshot:
        """Read the hello: the latest items, or those after `after`."""
        raise NotImplementedError

    def new_cursor(self, position: int) -> Cursor:
        return GaplessCursor(position)

    async def replay(self, after: int) -> list[Item]:
        """Read the stored items after `after`, checking access again."""
        raise NotImplementedError

    async def resynced(self) -> None:
        """Send what follows a replay (a fresh count)."""

    # Forwarding.

    def forward_item(self, number: int, text: str) -> str | None:
        """Return `text` to send if this socket was not given `number` yet."""
        return text if self.cursor.take(number) else None

    async def send_item(self, number: int, text: str) -> None:
        """Send an item this socket alone gets (an acknowledgement), given or not."""
        await self.send(text_data=text)
        self.cursor.record(number)

    async def resync(self) -> None:
        """Forward the stored items this socket has not been given, once its
        login and its access are checked again (a logout or a removal may have
        gone unheard while Redis was away)."""
        if not await self.login_still_valid():
            await self.realtime_session_ended({})
            return
        try:
            items = await self.replay(self.cursor.position)
        except Refused as error:
            await self.lost_access(error)
            return
        for item in items:
            if not self.ready:
                return
            if self.cursor.take(item.number):
                await self.send(text_data=item.text)
        if self.ready:
            await self.resynced()
