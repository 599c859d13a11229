"""`/ws/notifications/`: the user's own notification stream (docs/protocol.md)."""

from bisect import bisect_left, bisect_right
from collections import deque

from django.conf import settings

from realtime import metrics, ratelimit, tally
from realtime.consumers import ID_MAX, FrameError, RealtimeConsumer, dumps
from realtime.db import db_call

from . import events, frames, selectors, services
from .exceptions import NotificationNotFound

# Notification ids a socket remembers having forwarded (a user in two audience
# groups of one broadcast hears it twice).
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
    start, first = runs[bisect_right(runs, index, key=lambda run: run[0]) - 1]
    return first + (index - start)


def _positive_id(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
        return None
    return value


@db_call
def _group_ids(user) -> list[int]:
    return selectors.group_ids(user=user)


@db_call
def _hello(user, after: int | None) -> dict:
    state = selectors.unread_state(user=user)
    hello = {"type": "hello", "unread": state.count, "last_id": state.last_id}
    if after is None:
        rows = selectors.notifications_latest(user=user, through_id=state.last_id)
    else:
        rows, truncated = selectors.notifications_after(
            user=user, after=after, through_id=state.last_id
        )
        if truncated:
            hello["truncated"] = True
    hello["notifications"] = [frames.notification_dict(row) for row in rows]
    return hello


@db_call
def _catch_up(user, after: int) -> tuple[selectors.UnreadState, list[dict], list[int]]:
    state = selectors.unread_state(user=user)
    rows, _ = selectors.notifications_after(user=user, after=after, through_id=state.last_id)
    return state, [frames.notification_dict(row) for row in rows], selectors.group_ids(user=user)


@db_call
def _read(user, notification_id: int):
    return services.notification_mark_read(user=user, notification_id=notification_id)


@db_call
def _read_all(user):
    return services.notification_mark_all_read(user=user)


class NotificationConsumer(RealtimeConsumer):
    """Forward the user's notifications and keep the unread count in memory.

    The count is exact as of `counted_through` (the last id of the latest count
    read from the database: hello, or an `unread` event after reading); rows
    forwarded since with a higher id are added on top (`pending`).
    """

    frame_handlers = {"read": "on_read", "read_all": "on_read_all", "ping": "on_ping"}
    event_forwarders = {
        "notifications.batch": "forward_notification",
        "notifications.unread": "forward_unread",
    }
    kind = "notifications"

    async def start(self) -> None:
        after, after_given = self.after_param()
        await self.accept()
        # Join every audience group before reading, so a notification committed
        # in between arrives in hello, live, or both (then dropped by id).
        await self.join_group(events.recipient_group(self.user.pk))
        await self.join_group(events.ALL_USERS_GROUP)
        self.audience_groups: set[str] = set()
        await self._join_audiences(await _group_ids(self.user))
        hello = await _hello(self.user, after)
        self.unread = hello["unread"]
        self.hello_last_id = self.counted_through = hello["last_id"]
        self.read_through = 0
        self.pending: set[int] = set()
        self.seen: set[int] = set()
        self.seen_order: deque[int] = deque()
        if after is not None:
            metrics.resumes.labels(self.kind, metrics.WORKER).inc()
            metrics.resume_replayed.labels(self.kind, metrics.WORKER).inc(
                len(hello["notifications"])
            )
        if after_given and after is None:
            await self.send_error("invalid", "after must be a non-negative whole number.")
        await self.send_frame(hello)
        await self.mark_ready()

    async def _join_audiences(self, group_ids: list[int]) -> None:
        wanted = {events.audience_group(group_id) for group_id in group_ids}
        for group in sorted(wanted - self.audience_groups):
            await self.join_group(group)
        for group in sorted(self.audience_groups - wanted):
            await self.leave_group(group)
        self.audience_groups = wanted

    async def resync(self) -> None:
        """Forward what the channel layer lost while Redis was away (the latest
        RESUME_MAX since hello), then the true unread count, once the login is
        checked again (a logout may have gone unheard while Redis was away)."""
        if not await self.login_still_valid():
            await self.realtime_session_ended({})
            return
        state, missed, group_ids = await _catch_up(self.user, self.hello_last_id)
        self.pending = {p for p in self.pending if p > state.last_id}
        self.counted_through = max(self.counted_through, state.last_id)
        self.unread = state.count + len(self.pending)
        for notification in missed:
            if self.ready and self._remember(notification["id"]):
                await self.send_frame(
                    {"type": "notification", "notification": notification, "unread": self.unread}
                )
        if self.ready:
            await self.send_frame({"type": "unread", "count": self.unread})
            await self._join_audiences(group_ids)

    def _remember(self, notification_id: int) -> bool:
        """Record a forwarded id; return False when it was forwarded already."""
        if notification_id in self.seen:
            return False
        self.seen.add(notification_id)
        self.seen_order.append(notification_id)
        if len(self.seen_order) > SEEN_MAX:
            self.seen.discard(self.seen_order.popleft())
        return True

    # Client frames.

    async def on_read(self, frame: dict) -> None:
        notification_id = _positive_id(frame.get("id"))
        if notification_id is None:
            raise FrameError("invalid", "id must be a positive whole number.")
        if not await ratelimit.admit(
            self, "read", settings.REALTIME_READ_RATE_LIMIT, what="read marks"
        ):
            return
        try:
            _, changed = await _read(self.user, notification_id)
        except NotificationNotFound:
            raise FrameError("not_found", "You have no notification with that id.") from None
        if not changed:
            # Read already: no event follows, so this socket alone hears the count.
            await self.send_frame({"type": "unread", "count": self.unread})

    async def on_read_all(self, frame: dict) -> None:
        if not await ratelimit.admit(
            self, "read", settings.REALTIME_READ_RATE_LIMIT, what="read marks"
        ):
            return
        _, changed = await _read_all(self.user)
        if not changed:
            await self.send_frame({"type": "unread", "count": self.unread})

    # Channel-layer events (notifications.events).

    def forward_notification(self, event: dict) -> str | None:
        notification_id = notification_id_in(event, self.user.pk)
        if notification_id is None or notification_id <= self.hello_last_id:
            return None
        if not self._remember(notification_id):
            return None
        if notification_id > self.counted_through:
            self.pending.add(notification_id)
            self.unread += 1
        metrics.notifications_pushed.labels(metrics.WORKER).inc()
        broadcast_id = event.get("broadcast")
        if broadcast_id is not None:
            metrics.broadcast_deliveries.labels(metrics.WORKER).inc()
            tally.add(BROADCAST_PUSHED_KEY, str(broadcast_id))
        return frames.notification_frame_text(
            notification_id=notification_id,
            read=notification_id <= self.read_through,
            content=event["content"],
            unread=self.unread,
        )

    def forward_unread(self, event: dict) -> str:
        last_id = event["last_id"]
        self.pending = {p for p in self.pending if p > last_id}
        self.counted_through = max(self.counted_through, last_id)
        self.unread = event["count"] + len(self.pending)
        frame = {"type": "unread", "count": self.unread}
        if event.get("read"):
            frame["read"] = event["read"]
        if event.get("read_all"):
            self.read_through = max(self.read_through, last_id)
            frame["read_all"] = True
        return dumps(frame)

    async def notifications_groups_changed(self, event: dict) -> None:
        if self.ready:
            await self._join_audiences(await _group_ids(self.user))
