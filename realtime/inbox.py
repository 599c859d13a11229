"""What a WebSocket's application instance reads the client from, under `serve`.

Daphne gives every connection an `asyncio.Queue` for the messages its protocol
puts and its application gets. That queue makes three deques and an Event (a
fourth deque) when it is made, about 3.5 KB that an idle socket holds for as
long as it is open, to queue a message or two now and then. Measured with a
census of a worker's objects (one worker, 2,000 idle sockets): 4.85 deques per
socket, 3.7 KB, most of them these.

`SocketInbox` does the same job for the one reader an ASGI WebSocket has: a
deque only while messages wait, a future only while the reader waits.
`realtime.worker` hands it to WebSocket connections; HTTP requests keep
Daphne's queue (Django reads a request's body and listens for the disconnect
from two tasks).
"""

import asyncio
from collections import deque
from typing import Any


class SocketInbox:
    """A queue with one reader: `put_nowait` from the protocol, `get` from the
    application. Unbounded, as Daphne's own."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque | None = None
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item: Any) -> None:
        # Stored before the reader is woken: a reader cancelled between the
        # two leaves the item for the next `get`, as asyncio.Queue does.
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("a SocketInbox has one reader at a time")
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        items = self._items
        item = items.popleft()
        if not items:
            self._items = None
        return item
