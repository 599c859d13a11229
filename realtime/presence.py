"""Who is connected where, across all workers.

Each socket is a member `<channel>|<worker>|<user id>|<username>` of a sorted
set per group, scored by when it expires. One heartbeat task per process pushes the
expiry of its own sockets forward, so the sockets of a worker that died stop
counting within PRESENCE_TTL seconds.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from django.conf import settings
from redis.exceptions import RedisError

from . import metrics
from .store import get_store

logger = logging.getLogger(__name__)

OnExpired = Callable[[list[dict]], Awaitable[None]]


@dataclass
class _Tracked:
    members: set[str] = field(default_factory=set)
    on_expired: OnExpired | None = None


_tracked: dict[str, _Tracked] = {}
_heartbeat_task: asyncio.Task | None = None


def _key(group: str) -> str:
    return f"presence:{group}"


def _member(channel_name: str, user) -> str:
    # Usernames can't hold "|" (Django allows letters, digits and @.+-_).
    return f"{channel_name}|{metrics.WORKER}|{user.pk}|{user.get_username()}"


def parse_member(member: str) -> tuple[str, int, str]:
    """Return (worker, user id, username) of a member."""
    _, worker, user_id, username = member.split("|", 3)
    return worker, int(user_id), username


def _users(members: list[str]) -> list[dict]:
    """Return the distinct users among members, ordered by username."""
    users = {}
    for member in members:
        _, user_id, username = parse_member(member)
        users[user_id] = username
    return [
        {"id": user_id, "username": username}
        for user_id, username in sorted(users.items(), key=lambda item: item[1].lower())
    ]


@dataclass
class Joined:
    online: list[dict]
    came_online: bool  # the user had no other socket in the group
    sockets: int  # live sockets in the group, this one included


async def join(group: str, channel_name: str, user, on_expired: OnExpired | None = None) -> Joined:
    """Mark a socket present in `group`."""
    member = _member(channel_name, user)
    # Tracked first: if Redis is away, the heartbeat puts the entry there later.
    tracked = _tracked.setdefault(group, _Tracked())
    tracked.members.add(member)
    tracked.on_expired = on_expired
    _ensure_heartbeat()
    try:
        before = await get_store().zset_add(
            _key(group), member, time.time() + settings.PRESENCE_TTL, settings.PRESENCE_TTL
        )
    except (OSError, RedisError):
        logger.warning("presence unavailable (redis): counting this socket alone")
        before = []
    was_online = any(u["id"] == user.pk for u in _users(before))
    return Joined(_users([*before, member]), not was_online, len(before) + 1)


async def leave(group: str, channel_name: str, user):
    """Mark a socket gone; return (online users, whether the user went offline)."""
    member = _member(channel_name, user)
    tracked = _tracked.get(group)
    if tracked:
        tracked.members.discard(member)
        if not tracked.members:
            del _tracked[group]
    try:
        left = _users(await get_store().zset_remove(_key(group), member))
    except (OSError, RedisError):
        # The entry expires by itself (PRESENCE_TTL).
        logger.warning("presence unavailable (redis): entry left to expire")
        return [], False
    return left, not any(u["id"] == user.pk for u in left)


async def online(group: str) -> list[dict]:
    return _users(await get_store().zset_members(_key(group)))


async def all_groups(prefix: str) -> dict[str, list[str]]:
    """Return the live members of every group whose name starts with `prefix`."""
    found = await get_store().scan_zset_members(_key(prefix) + "*")
    return {key.removeprefix("presence:"): members for key, members in found.items()}


async def refresh_once() -> None:
    """Extend this process's sockets; report groups that lost expired members."""
    if not _tracked:
        return
    entries = {_key(group): set(t.members) for group, t in _tracked.items()}
    pruned = await get_store().zset_refresh(
        entries, time.time() + settings.PRESENCE_TTL, settings.PRESENCE_TTL
    )
    for group, tracked in list(_tracked.items()):
        if pruned.get(_key(group)) and tracked.on_expired:
            await tracked.on_expired(await online(group))


async def _heartbeat() -> None:
    while _tracked:
        await asyncio.sleep(settings.PRESENCE_HEARTBEAT)
        try:
            await refresh_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis away: keep beating; entries come back on the next success.
            logger.warning("presence heartbeat failed", exc_info=True)


def _ensure_heartbeat() -> None:
    global _heartbeat_task
    loop = asyncio.get_running_loop()
    if _heartbeat_task is None or _heartbeat_task.done() or _heartbeat_task.get_loop() is not loop:
        _heartbeat_task = loop.create_task(_heartbeat())
