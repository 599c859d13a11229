"""`/ws/notifications/`: the user's own notification stream (docs/protocol.md).

It is the one socket every page has, so it also carries what other apps send a
user wherever they are (chat: the room list's activity): it joins the groups
they name and forwards their frames as they are, without knowing those apps
(realtime.userstream).
"""

import logging
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from realtime import ratelimit, tally
from realtime.db import db_call
from realtime.errors import Refused
from realtime.metrics import here_summed
from realtime.stream import Item, Snapshot, SparseCursor, StreamConsumer
from realtime.transport import whole_number
from realtime.userstream import FRAME as STREAM_FRAME
from realtime.userstream import user_stream_groups
from realtime.wire import dumps

from . import events, frames, metrics, selectors, services

logger = logging.getLogger(__name__)

# Notification ids a socket remembers having forwarded since hello (a user in
# two audience groups of one broadcast hears it twice).
SEEN_MAX = 512
# Redis hash: broadcast id -> sockets it was written to, across workers (admin Live page).
BROADCAST_PUSHED_KEY = "broadcast:pushed"


def notification_id_in(event: dict, user_id: int) -> int | None:
    """Return the id of `user_id`'s row in a `notifications.batch` event, if it has one."""
    users = event["users"]
    index = bisect_left(users, user_id)
    if index == len(users) or users[index] != user_id:
        return None
    runs = event["ids"]
    # One run is the usual case (one INSERT's consecutive ids): no search.
    start, first = runs[0] if len(runs) == 1 else runs[bisect_right(runs, index, key=_start) - 1]
    return first + (index - start)


def _start(run: list[int]) -> int:
    return run[0]


@db_call
def _group_ids(user) -> list[int]:
    return selectors.group_ids(user=user)


@dataclass(frozen=True)
class Groups:
    audience_ids: list[int]  # the user's Django groups (broadcast audiences)
    extra: set[str]  # the groups other apps want this user's stream in


@db_call
def _groups(user: Any) -> Groups:
    """Every group a stream joins besides its own, in one database call."""
    return Groups(selectors.group_ids(user=user), _extra_groups_of(user))


@db_call
def _hello(user: Any, after: int | None) -> dict[str, Any]:
    state = selectors.unread_state(user=user)
    hello = {"type": "hello", "unread": state.count, "last_id": state.last_id}
    if state.last_id == 0 or (after is not None and after >= state.last_id):
        rows = []  # none yet, or none since: no query needed
    elif after is None:
        rows = selectors.notifications_latest(user=user, through_id=state.last_id)
    else:
        page = selectors.notifications_after(user=user, after=after, through_id=state.last_id)
        rows = page.notifications
        if page.truncated:
            hello["truncated"] = True
    hello["notifications"] = [frames.notification_dict(row) for row in rows]
    return hello


@db_call
def _extra_groups(user: Any) -> set[str]:
    return _extra_groups_of(user)


def _extra_groups_of(user: Any) -> set[str]:
    """Return the groups other apps want this user's stream in."""
    groups: set[str] = set()
    for receiver, answer in user_stream_groups.send_robust(sender=NotificationConsumer, user=user):
        if isinstance(answer, Exception):
            # That app's live updates stop for this socket; notifications go on.
            logger.error("user_stream_groups receiver %r failed", receiver, exc_info=answer)
        else:
            groups.update(answer)
    return groups


@dataclass(frozen=True)
class CatchUp:
    state: selectors.UnreadState
    missed: list[dict[str, Any]]  # notification objects, oldest first
    group_ids: list[int]


@db_call
def _catch_up(user: Any, after: int) -> CatchUp:
    state = selectors.unread_state(user=user)
    page = selectors.notifications_after(user=user, after=after, through_id=state.last_id)
    return CatchUp(
        state,
        [frames.notification_dict(row) for row in page.notifications],
        selectors.group_ids(user=user),
    )


@db_call
def _read(user: Any, notification_id: int) -> services.ReadMarked:
    return services.notification_mark_read(user=user, notification_id=notification_id)


@db_call
def _read_all(user: Any) -> services.ReadMarked:
    return services.notification_mark_all_read(user=user)


class NotificationConsumer(StreamConsumer):
    """Forward the user's notifications and keep the unread count in memory.

    The count is exact as of `counted_through` (the last id of the latest count
    read from the database: hello, or an `unread` event after reading); rows
    forwarded since with a higher id are added on top (`pending`).
    """

    kind = "notifications"
    frame_handlers = {"read": "on_read", "read_all": "on_read_all", "ping": "on_ping"}
    event_forwarders = {
        events.BATCH: "forward_notification",
        events.UNREAD: "forward_unread",
        STREAM_FRAME: "forward_stream_frame",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audience_groups: set[str] = set()
        self.extra_groups: set[str] = set()
        self.unread = 0
        self.counted_through = 0
        self.read_through = 0
        self.pending: set[int] = set()
        self.group_ids: list[int] = []

    # The stream (realtime.stream).

    def stream_groups(self) -> list[str]:
        return [events.recipient_group(self.user.pk), events.ALL_USERS_GROUP]

    async def joined(self) -> None:
        # Audience groups too, before reading: a notification committed in
        # between arrives in hello, live, or both (then dropped by id).
        groups = await _groups(self.user)
        await self._join_audiences(groups.audience_ids)
        await self._join_extras(groups.extra)

    async def snapshot(self, after: int | None) -> Snapshot:
        hello = await _hello(self.user, after)
        self.unread = hello["unread"]
        self.counted_through = hello["last_id"]
        return Snapshot(
            dumps(hello), position=hello["last_id"], replayed=len(hello["notifications"])
        )

    def new_cursor(self, position: int) -> SparseCursor:
        return SparseCursor(position, memory=SEEN_MAX)

    async def replay(self, after: int) -> list[Item]:
        """Read what the channel layer lost while Redis was away (the latest
        RESUME_MAX since hello) and the true unread count."""
        caught = await _catch_up(self.user, after)
        self._counted(caught.state.count, caught.state.last_id)
        self.group_ids = caught.group_ids
        return [
            Item(n["id"], dumps({"type": "notification", "notification": n, "unread": self.unread}))
            for n in caught.missed
        ]

    async def resynced(self) -> None:
        await self.send_frame({"type": "unread", "count": self.unread})
        await self._join_audiences(self.group_ids)
        await self._join_extras(await _extra_groups(self.user))

    async def _join_audiences(self, group_ids: list[int]) -> None:
        wanted = {events.audience_group(group_id) for group_id in group_ids}
        for group in sorted(wanted - self.audience_groups):
            await self.join_group(group)
        for group in sorted(self.audience_groups - wanted):
            await self.leave_group(group)
        self.audience_groups = wanted

    async def _join_extras(self, wanted: set[str]) -> None:
        # The set changes before the awaits: a frame of a group left is dropped at once.
        joined, self.extra_groups = self.extra_groups, wanted
        for group in sorted(wanted - joined):
            await self.join_group(group)
        for group in sorted(joined - wanted):
            await self.leave_group(group)

    def _counted(self, count: int, last_id: int) -> None:
        """Take a count read from the database, exact up to `last_id`."""
        self.pending = {p for p in self.pending if p > last_id}
        self.counted_through = max(self.counted_through, last_id)
        self.unread = count + len(self.pending)

    # Client frames.

    async def on_read(self, frame: dict) -> None:
        notification_id = whole_number(frame.get("id"), minimum=1)
        if notification_id is None:
            raise Refused(_("id must be a positive whole number."))
        if not await ratelimit.admit(
            self,
            "read",
            settings.REALTIME_READ_RATE_LIMIT,
            what=pgettext_lazy("too many", "read marks"),
        ):
            return
        marked = await _read(self.user, notification_id)
        if not marked.changed:
            # Read already: no event follows, so this socket alone hears the count.
            await self.send_frame({"type": "unread", "count": self.unread})

    async def on_read_all(self, frame: dict) -> None:
        if not await ratelimit.admit(
            self,
            "read",
            settings.REALTIME_READ_RATE_LIMIT,
            what=pgettext_lazy("too many", "read marks"),
        ):
            return
        marked = await _read_all(self.user)
        if not marked.changed:
            await self.send_frame({"type": "unread", "count": self.unread})

    # Channel-layer events (notifications.events).

    def forward_notification(self, event: dict) -> str | None:
        notification_id = notification_id_in(event, self.user_id)
        if notification_id is None or not self.cursor.take(notification_id):
            return None
        replaces = event.get("replaces")
        if replaces is not None and (replaces in self.pending or replaces <= self.counted_through):
            # A grouped notification grew: the one it replaces was counted
            # (forwarded, or in the database count), so the count stays.
            if replaces in self.pending:
                self.pending.discard(replaces)
                self.pending.add(notification_id)
        elif notification_id > self.counted_through:
            self.pending.add(notification_id)
            self.unread += 1
        here_summed(metrics.notifications_pushed).inc()
        broadcast_id = event.get("broadcast")
        if broadcast_id is not None:
            here_summed(metrics.broadcast_deliveries).inc()
            tally.add(BROADCAST_PUSHED_KEY, str(broadcast_id))
        return frames.notification_frame_text(
            notification_id=notification_id,
            read=notification_id <= self.read_through,
            content=event["content"],
            unread=self.unread,
        )

    def forward_unread(self, event: dict) -> str:
        last_id = event["last_id"]
        self._counted(event["count"], last_id)
        frame: dict[str, Any] = {"type": "unread", "count": self.unread}
        if event.get("read"):
            frame["read"] = event["read"]
        if event.get("read_all"):
            self.read_through = max(self.read_through, last_id)
            frame["read_all"] = True
        return dumps(frame)

    async def notifications_groups_changed(self, event: dict) -> None:
        if self.ready:
            await self._join_audiences(await _group_ids(self.user))

    # Other apps' events (realtime.userstream).

    def forward_stream_frame(self, event: dict) -> str | None:
        # A group just left may still have frames on their way.
        return event["text"] if event["group"] in self.extra_groups else None

    async def stream_groups_changed(self, event: dict) -> None:
        if self.ready:
            await self._join_extras(await _extra_groups(self.user))

    async def stream_revoked(self, event: dict) -> None:
        group = event["group"]
        if group not in self.extra_groups:
            return
        if "keep" in event:  # sorted user ids: everyone else leaves
            keep = event["keep"]
            at = bisect_left(keep, self.user.pk)
            revoked = at == len(keep) or keep[at] != self.user.pk
        else:
            revoked = event["user_id"] == self.user.pk
        if revoked:
            await self._join_extras(self.extra_groups - {group})
