"""Who is online in a group (a room), across all workers, at any size.

Redis holds, per group, a sorted set of its online users and, per user, a sorted
set of the workers holding that user's sockets there, all scored by expiry.
Each worker counts its own sockets per user in memory and touches Redis only
when a user's first socket on it opens or its last one closes; a heartbeat
pushes the expiry of its users forward, so the users of a worker that died stop
counting within PRESENCE_TTL. Joining costs O(log n) in Redis, not a read of
the whole group, and lists carry at most ONLINE_LIST_MAX users plus the count.
Changes are announced at most once a second per group, and less often in a
large group: each announcement goes to every socket of the group, on every
worker, so the interval grows with the group (ANNOUNCE_FRAMES per second at
most). A crowd joining at once then costs frames in proportion to the crowd,
not to its square.

The interval is the group's, not each worker's: the worker whose changes are
due asks Redis (`online_announce`), which answers "new" (announce, and it is
recorded as the group's last announcement), "wait" (another worker announced
less than an interval ago: ask again then) or "same" (the group is as last
announced, by whichever worker: nothing to send). With one announcement per
worker, every socket heard each change once per worker, within milliseconds,
and could hear them out of order.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from django.conf import settings
from redis.exceptions import RedisError

from . import metrics
from .heartbeat import Heartbeat
from .store import get_store
from .wire import dumps

logger = logging.getLogger(__name__)

ONLINE_LIST_MAX = 100
ANNOUNCE_DELAY = 1.0
# Seconds a worker's last read of a group's list serves its next joins' hellos.
# Announcements come at most once a second anyway, so a client's list is as
# late as that already; each join still writes to Redis and reads the count
# (a crowd joining at once read and parsed the same 100 users every time).
LIST_FRESH = ANNOUNCE_DELAY
# Presence frames per second a group's announcements may cost it.
ANNOUNCE_FRAMES = 1000

OnChange = Callable[["Online"], Awaitable[None]]


@dataclass
class Online:
    users: list[dict]  # at most ONLINE_LIST_MAX, ordered by username
    count: int
    # `users` as JSON text, when the list is one a crowd's joins share.
    encoded: str | None = None

    def users_json(self) -> str:
        """`users` as JSON text, encoded once for every join that shares the list."""
        return self.encoded if self.encoded is not None else dumps(self.users)


@dataclass
class _Group:
    sockets: Counter = field(default_factory=Counter)  # user id -> local sockets
    usernames: dict[int, str] = field(default_factory=dict)
    on_change: OnChange | None = None
    announce: asyncio.TimerHandle | None = None
    online_count: int = 0  # the group's online users when last read
    # The group's list as last read from Redis, and when (monotonic): joins
    # within LIST_FRESH of it take it instead of reading and parsing it again.
    listed: list[dict] | None = None
    listed_at: float = 0.0
    # `listed` as JSON text, and the list it was encoded from (lists here are
    # replaced, never changed in place): a hello of a crowd's join embeds it
    # instead of encoding the same hundred users again.
    listed_text: tuple[list[dict], str] | None = None

    def listed_json(self, users: list[dict]) -> str:
        """`users` (this group's `listed`) as JSON text, encoded once per list."""
        if self.listed_text is None or self.listed_text[0] is not users:
            self.listed_text = (users, dumps(users))
        return self.listed_text[1]


_groups: dict[str, _Group] = {}
_announcements: set[asyncio.Task] = set()


def local_sockets() -> dict[str, int]:
    """Return this process's sockets per group it counts presence for."""
    return {group: sum(state.sockets.values()) for group, state in _groups.items()}


def forget_local() -> None:
    """Forget this process's groups without touching Redis (a process
    starting over: each test begins with an empty Redis)."""
    for state in _groups.values():
        if state.announce is not None:
            state.announce.cancel()
    _groups.clear()


def _room_key(group: str) -> str:
    return f"online:{group}"


def _user_key(group: str, user_id: int) -> str:
    return f"online:{group}:u:{user_id}"


def _told_key(group: str) -> str:
    return f"online:{group}:told"


def _member(user_id: int, username: str) -> str:
    return f"{user_id}|{username}"


def _users(members: list[str]) -> list[dict]:
    users = []
    for member in members:
        user_id, username = member.split("|", 1)
        users.append({"id": int(user_id), "username": username})
    return sorted(users, key=lambda user: user["username"].lower())


async def join(group: str, user, on_change: OnChange) -> Online:
    """Count a socket of `user` in `group`; return who is online there now."""
    local = _groups.setdefault(group, _Group())
    local.on_change = on_change
    local.usernames[user.pk] = user.get_username()
    local.sockets[user.pk] += 1
    _heartbeat.ensure()
    me = {"id": user.pk, "username": user.get_username()}
    listed = local.listed if time.monotonic() - local.listed_at < LIST_FRESH else None
    try:
        added, count, first = await get_store().online_join(
            _room_key(group),
            _user_key(group, user.pk),
            _member(user.pk, user.get_username()),
            metrics.WORKER,
            time.time() + settings.PRESENCE_TTL,
            settings.PRESENCE_TTL,
            0 if listed is not None else ONLINE_LIST_MAX,
        )
    except (OSError, RedisError):
        # The heartbeat writes the entry once Redis answers again.
        logger.warning("presence unavailable (redis): counting this user alone")
        return Online([me], 1)
    local.online_count = count
    if added:
        changed(group)
    if listed is None:
        users = _users(first)
        _keep_list(local, users)
        return Online(users, count, local.listed_json(users))
    # The next joins here list this user too, as a read would (from the list
    # as it is now: a leave during the await took its user out of it).
    users = _with_user(local.listed if local.listed is not None else listed, me)
    local.listed = users
    return Online(users, count, local.listed_json(users))


def _keep_list(local: _Group, users: list[dict]) -> None:
    local.listed = users
    local.listed_at = time.monotonic()


def _with_user(users: list[dict], me: dict) -> list[dict]:
    """Return `users` with `me` in its place, if the list has room for them."""
    if len(users) >= ONLINE_LIST_MAX or any(user["id"] == me["id"] for user in users):
        return users
    return sorted([*users, me], key=lambda user: user["username"].lower())


async def leave(group: str, user) -> None:
    """Uncount a socket; announce when the user's last socket anywhere left."""
    local = _groups.get(group)
    if local is None:
        return
    local.sockets[user.pk] -= 1
    if local.sockets[user.pk] > 0:
        return
    local.sockets.pop(user.pk, None)
    local.usernames.pop(user.pk, None)
    try:
        went_offline = await get_store().online_leave(
            _room_key(group),
            _user_key(group, user.pk),
            _member(user.pk, user.get_username()),
            metrics.WORKER,
        )
    except (OSError, RedisError):
        # The entry expires by itself (PRESENCE_TTL).
        logger.warning("presence unavailable (redis): entry left to expire")
        return
    if went_offline:
        if local.listed is not None:
            local.listed = [entry for entry in local.listed if entry["id"] != user.pk]
        changed(group)
    # Another socket's leave may have dropped it during the await.
    if not local.sockets and local.announce is None and _groups.get(group) is local:
        del _groups[group]


async def is_here(group: str, user_id: int) -> bool:
    """Whether `user_id` has a socket in `group` now, on any worker; False when
    Redis does not answer (not knowing, a notification is better than none)."""
    try:
        return await get_store().online_here(_room_key(group), _user_key(group, user_id))
    except (OSError, RedisError):
        logger.warning("presence unavailable (redis): user taken as away")
        return False


def changed(group: str) -> None:
    """Announce who is online in `group` soon, once for any number of changes."""
    local = _groups.get(group)
    if local is None or local.on_change is None or local.announce is not None:
        return
    local.announce = asyncio.get_running_loop().call_later(
        announce_delay(local.online_count), _announce, group
    )


def announce_delay(online_count: int) -> float:
    """Seconds between two announcements to a group of `online_count` users:
    each reaches all of them, so at most ANNOUNCE_FRAMES frames a second."""
    return ANNOUNCE_DELAY * max(1.0, online_count / ANNOUNCE_FRAMES)


def _announce(group: str) -> None:
    task = asyncio.ensure_future(_announce_now(group))
    _announcements.add(task)
    task.add_done_callback(_announcements.discard)


async def _announce_now(group: str) -> None:
    local = _groups.get(group)
    if local is None:
        return
    local.announce = None
    try:
        if local.on_change is not None:
            turn = await get_store().online_announce(
                _room_key(group),
                _told_key(group),
                ONLINE_LIST_MAX,
                announce_delay(local.online_count),
                settings.PRESENCE_TTL,
            )
            metrics.here(metrics.presence_turns, turn.verdict).inc()
            here = Online(_users(turn.first), turn.count)
            local.online_count = here.count
            _keep_list(local, here.users)
            if turn.verdict == "wait":
                # Another worker announced less than an interval ago: this
                # worker's changes go out once the room may hear again (or not
                # at all, if someone announces them first).
                local.announce = asyncio.get_running_loop().call_later(turn.wait, _announce, group)
                return
            if turn.verdict == "new":
                await local.on_change(here)
    except (OSError, RedisError):
        logger.warning("presence announcement failed (redis)", exc_info=True)
    if not local.sockets and local.announce is None:
        _groups.pop(group, None)


async def refresh_once() -> None:
    """Extend this worker's users everywhere; announce groups that lost expired users."""
    if not _groups:
        return
    rooms = {
        _room_key(group): {
            _member(user_id, local.usernames[user_id]): _user_key(group, user_id)
            for user_id in local.sockets
        }
        for group, local in _groups.items()
        if local.sockets
    }
    pruned = await get_store().online_refresh(
        rooms, metrics.WORKER, time.time() + settings.PRESENCE_TTL, settings.PRESENCE_TTL
    )
    for group in list(_groups):
        if pruned.get(_room_key(group)):
            changed(group)


_heartbeat = Heartbeat("presence", refresh_once, lambda: bool(_groups))
