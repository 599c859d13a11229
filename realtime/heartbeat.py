"""A task per process and event loop that does a round of work every so often
while there is anything to do it for: the Redis entries of presence and the
socket registry refreshed, the sockets' logins and their rooms' members online
looked at again. One task for a worker's sockets, not a timer for each."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)


def _presence_heartbeat() -> float:
    return settings.PRESENCE_HEARTBEAT


class Heartbeat:
    """Call `refresh` every `every()` seconds (PRESENCE_HEARTBEAT unless given)
    while `active()` holds."""

    def __init__(
        self,
        name: str,
        refresh: Callable[[], Awaitable[None]],
        active: Callable[[], bool],
        *,
        every: Callable[[], float] = _presence_heartbeat,
    ) -> None:
        self.name = name
        self.refresh = refresh
        self.active = active
        self.every = every
        self.task: asyncio.Task | None = None

    def ensure(self) -> None:
        """Start the beat in the running loop unless it is beating there already."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._beat())

    async def _beat(self) -> None:
        while self.active():
            await asyncio.sleep(self.every())
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: keep beating; entries come back on the next success.
                logger.warning("%s heartbeat failed", self.name, exc_info=True)


V = TypeVar("V")


class Rounds(Generic[V]):
    """A worker's sockets, each with what a round needs of it, and a Heartbeat
    that runs `work` over them every `every()` seconds while there are any: one
    task per worker instead of a timer (and a copy of its context) per socket.
    A socket that ended without letting go (its release failed) is dropped
    before a round, not kept alive here."""

    def __init__(
        self, name: str, work: Callable[[], Awaitable[None]], *, every: Callable[[], float]
    ) -> None:
        self.name = name
        self.work = work
        self.sockets: dict[Any, V] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.heartbeat = Heartbeat(name, self._round, lambda: bool(self.sockets), every=every)

    def watch(self, socket: Any, value: V) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # (a test's new loop: the old one's are gone)
            self.loop, self.sockets = loop, {}
        self.sockets[socket] = value
        self.heartbeat.ensure()

    def unwatch(self, socket: Any) -> None:
        self.sockets.pop(socket, None)

    async def _round(self) -> None:
        for socket in [socket for socket in self.sockets if socket.released]:
            logger.warning("%s: dropping a socket that ended without cleanup", self.name)
            del self.sockets[socket]
        if self.sockets:
            await self.work()
