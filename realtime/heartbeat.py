"""A task per process and event loop that refreshes Redis entries while there
is anything to refresh."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings

logger = logging.getLogger(__name__)


class Heartbeat:
    """Call `refresh` every PRESENCE_HEARTBEAT seconds while `active()` holds."""

    def __init__(
        self, name: str, refresh: Callable[[], Awaitable[None]], active: Callable[[], bool]
    ) -> None:
        self.name = name
        self.refresh = refresh
        self.active = active
        self.task: asyncio.Task | None = None

    def ensure(self) -> None:
        """Start the beat in the running loop unless it is beating there already."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._beat())

    async def _beat(self) -> None:
        while self.active():
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: keep beating; entries come back on the next success.
                logger.warning("%s heartbeat failed", self.name, exc_info=True)
