"""Every open socket of every user, across all workers: the cap on sockets per
user, the admin's Live page and a room's "online anywhere" read it. (Who is online in a room, as the
contract's `presence` frames say, is realtime.presence.)

Each socket is a member `<channel>|<worker>|<user id>|<username>` of a sorted
set per user, scored by when it expires. One heartbeat task per process pushes
the expiry of its own sockets forward, so the sockets of a worker that died stop
counting within PRESENCE_TTL seconds. The heartbeat extends only sockets whose
consumer is still alive and not released: a consumer that died without its
cleanup (a bug, a kill) stops counting within PRESENCE_TTL too, never being
kept alive by the beat of the process it died in.
"""

import logging
import time
import weakref

from django.conf import settings
from redis.exceptions import RedisError

from . import metrics
from .groups import user_group
from .heartbeat import Heartbeat
from .store import get_store

logger = logging.getLogger(__name__)

# group -> this process's members -> their consumer (weakly: a consumer that is
# gone is not refreshed).
_tracked: dict[str, dict[str, weakref.ref]] = {}


def local_sockets() -> dict[str, list[str]]:
    """Return this process's tracked sockets: group -> channel names."""
    return {group: list(members) for group, members in _tracked.items() if members}


def forget_local() -> None:
    """Forget this process's sockets without touching Redis (a process
    starting over: each test begins with an empty Redis)."""
    _tracked.clear()


def _key(group: str) -> str:
    return f"registry:{group}"


def user_sockets_group(user_id: int) -> str:
    """Every socket of one user, whatever it is of (the cap counts them)."""
    return f"sockets.{user_group(user_id)}"


def _member(channel_name: str, user) -> str:
    # Usernames can't hold "|" (Django allows letters, digits and @.+-_).
    return f"{channel_name}|{metrics.WORKER}|{user.pk}|{user.get_username()}"


def parse_member(member: str) -> tuple[str, int, str]:
    """Return (worker, user id, username) of a member."""
    _, worker, user_id, username = member.split("|", 3)
    return worker, int(user_id), username


async def track(group: str, channel_name: str, user, consumer) -> int:
    """Record `consumer`'s open socket in `group`; return how many live sockets it holds."""
    member = _member(channel_name, user)
    # Tracked first: if Redis is away, the heartbeat puts the entry there later.
    _tracked.setdefault(group, {})[member] = weakref.ref(consumer)
    _heartbeat.ensure()
    try:
        return await get_store().zset_add(
            _key(group), member, time.time() + settings.PRESENCE_TTL, settings.PRESENCE_TTL
        )
    except (OSError, RedisError):
        logger.warning("socket registry unavailable (redis): counting this socket alone")
        return 1


async def untrack(group: str, channel_name: str, user) -> None:
    member = _member(channel_name, user)
    members = _tracked.get(group)
    if members is not None:
        members.pop(member, None)
        if not members:
            del _tracked[group]
    try:
        await get_store().zset_remove(_key(group), member)
    except (OSError, RedisError):
        # The entry expires by itself (PRESENCE_TTL).
        logger.warning("socket registry unavailable (redis): entry left to expire")


async def users_online(user_ids: list[int]) -> set[int]:
    """Return those of `user_ids` with a socket open anywhere (any page, any
    worker): one ZCOUNT each, pipelined; the caller caps how many it asks about."""
    keys = {_key(user_sockets_group(user_id)): user_id for user_id in user_ids}
    counts = await get_store().zset_live_counts(list(keys))
    return {keys[key] for key, count in counts.items() if count}


async def live_members(group: str) -> list[str]:
    """Return the live members of `group`, on every worker."""
    return await get_store().zset_members(_key(group))


async def all_groups(prefix: str) -> dict[str, list[str]]:
    """Return the live members of every group whose name starts with `prefix`."""
    found = await get_store().scan_zset_members(_key(prefix) + "*")
    return {key.removeprefix("registry:"): members for key, members in found.items()}


async def refresh_once() -> None:
    """Extend this process's sockets and prune expired ones."""
    for group, members in list(_tracked.items()):
        for member, consumer in list(members.items()):
            alive = consumer()
            if alive is None or alive.released:
                logger.warning("socket registry: dropping a consumer that ended without cleanup")
                del members[member]
        if not members:
            del _tracked[group]
    if _tracked:
        entries = {_key(group): set(members) for group, members in _tracked.items()}
        await get_store().zset_refresh(
            entries, time.time() + settings.PRESENCE_TTL, settings.PRESENCE_TTL
        )


_heartbeat = Heartbeat("socket registry", refresh_once, lambda: bool(_tracked))
