"""Direct delivery: group events handed to a consumer by a plain call, and
frames written straight to the socket's own connection (realtime.fastsend).

Why. The stock path gives every local member of a group its own copy of the
event in its own queue; each consumer task then wakes, decodes the same msgpack
again, and Channels starts a task for its next receive. For one room message to
2,000 local sockets that is 2,000 decodes and 4,000 task switches. Our layer
(realtime.layers) decodes once per process and calls `deliver()` on each
registered consumer; a frame with a forwarder is written at once (framed once
per worker, written to the socket when nothing is queued: realtime.fastsend).
Every other text frame the consumer sends takes the same path. Measured in
bench/ (fanout, burst): about 25 ms of worker CPU per 1,000 deliveries against
470 for the stock layer and path.

Order. `deliver()` never waits. An event with a forwarder goes out at once only
when nothing is waiting before it; every other event waits in this consumer's
inbox and runs in its own task, in order, so one slow handler delays its own
socket and nobody else's.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from . import fastsend

logger = logging.getLogger(__name__)

INBOX_MAX = 10_000  # events a consumer may have waiting for its own task


class DirectDelivery:
    """Mixin for SocketConsumer: the inbox, its task, and the inline write.

    `event_forwarders` maps an event type to a plain method that returns the
    text to send (or None); it must not wait on anything.
    """

    event_forwarders: dict[str, str] = {}

    ready = False
    released = False
    ws_protocol: Any = None
    _drainer: asyncio.Task | None = None

    # Made by the first event that has to wait: most sockets never need one
    # (a deque is most of a kilobyte, times every idle socket).
    _inbox: deque[dict] | None = None

    async def dispatch(self, message: dict) -> None:
        # Channels runs aclose_old_connections() through a thread hop before
        # every event; our handlers touch the database only through
        # realtime.db.db_call, which closes stale connections itself.
        event_type = message["type"]
        forwarder = self.event_forwarders.get(event_type)
        if forwarder is not None:
            if self.ready:
                text = getattr(self, forwarder)(message)
                if text is not None:
                    await self.send(text_data=text)
            return
        handler = getattr(self, event_type.replace(".", "_"), None)
        if handler is None:
            # Sockets of several kinds share groups (user.<id>); an event meant
            # for another kind is not an error.
            logger.debug("%s ignores %s", type(self).__name__, event_type)
            return
        await handler(message)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """Send a text frame on the fast path when the socket is open under
        Daphne; anything else (binary, close, another server) the ASGI way."""
        protocol = self.ws_protocol
        if protocol is not None and text_data and bytes_data is None and not close:
            if protocol.state == protocol.STATE_OPEN:
                fastsend.send_text(protocol, text_data)
                return
            if protocol.state != protocol.STATE_CONNECTING:
                # Closing or closed: nothing reaches the client any more (the
                # ASGI way would raise autobahn's Disconnected in the handler).
                return
        await super().send(text_data, bytes_data, close)  # type: ignore[misc]  # the consumer's

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Event type -> the forwarder function, looked up once per class rather
        # than by name on every delivery.
        cls._forwarder_functions = {
            event_type: getattr(cls, name) for event_type, name in cls.event_forwarders.items()
        }

    _forwarder_functions: dict[str, Callable[[Any, dict], str | None]] = {}

    def deliver(self, event: dict) -> None:
        """Take a group event from the layer; never waits."""
        if self.released:
            return
        if self.ready and self._drainer is None and not self._inbox:
            forward = self._forwarder_functions.get(event["type"])
            if forward is not None and self.ws_protocol is not None:
                text = forward(self, event)
                if text is not None:
                    # The event's own text, which every local socket sends,
                    # is framed once per worker.
                    fastsend.send_text(
                        self.ws_protocol, text, event if text is event.get("text") else None
                    )
                return
        self._queue(event)

    def deliver_many(self, events: list[dict]) -> None:
        """Take several events of one group, in order (a burst in a room); the
        frames of those that can go at once are written together."""
        if self.released:
            return
        protocol = self.ws_protocol
        if not (self.ready and self._drainer is None and not self._inbox and protocol is not None):
            for event in events:
                self.deliver(event)
            return
        texts: list[tuple[str, dict | None]] = []
        for position, event in enumerate(events):
            forward = self._forwarder_functions.get(event["type"])
            if forward is None:
                # Its handler may wait: what came before it goes now, it and
                # the rest through the inbox, in order.
                fastsend.send_texts(protocol, texts)
                for rest in events[position:]:
                    self._queue(rest)
                return
            text = forward(self, event)
            if text is not None:
                texts.append((text, event if text is event.get("text") else None))
        fastsend.send_texts(protocol, texts)

    def _queue(self, event: dict) -> None:
        """Keep `event` for this consumer's own task, behind what waits already."""
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        elif len(inbox) >= INBOX_MAX:
            # A socket this far behind resumes by seq faster than it catches up.
            logger.warning("a socket fell %d events behind: closing it", len(inbox))
            inbox.clear()
            self.fell_behind()
            return
        inbox.append(event)
        if self.ready and self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    def fell_behind(self) -> None:
        raise NotImplementedError

    def start_delivery(self) -> None:
        """Deliver what waited for hello (the client drops what hello had)."""
        if self._inbox and self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    def stop_delivery(self) -> None:
        if self._inbox is not None:
            self._inbox.clear()
        if self._drainer is not None and self._drainer is not asyncio.current_task():
            self._drainer.cancel()

    async def _drain(self) -> None:
        try:
            while (inbox := self._inbox) and not self.released:
                event = inbox.popleft()
                try:
                    await self.dispatch(event)
                except Exception:
                    logger.exception("%s failed on %s", type(self).__name__, event.get("type"))
        finally:
            self._drainer = None
            if not self._inbox:
                # Emptied: given back, as most sockets need one only now and
                # then (a deque is most of a kilobyte, times every idle socket).
                self._inbox = None
