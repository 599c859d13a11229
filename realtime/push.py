"""The one way events reach sockets through the channel layer, with one
failure policy, used by every app's `events.py` (as Zulip's
`send_event_on_commit`).

Stored data is pushed only after its transaction commits: nobody hears of a
row a rollback took back. A push that fails (Redis away) loses nothing: the
data is stored and sockets catch up by seq or id when they resync or resume.
It is logged and counted, and the returned `Push` says so, so that the one
who caused it (the sending socket) can be answered directly.
"""

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import metrics

logger = logging.getLogger(__name__)

Event = dict[str, Any]
# An event to build after commit, from the committed data; None: send nothing.
LateEvent = Callable[[], Event | None]


@dataclass
class Push:
    """What became of one push: `done` once it was tried, `delivered` when the
    layer took every event (a layer takes it: sockets may still be gone)."""

    done: bool = False
    delivered: bool = False
    groups: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.done and not self.delivered


def send_on_commit(group: str, event: Event | LateEvent) -> Push:
    """Send `event` to every socket in `group` once the transaction commits
    (at once outside a transaction)."""
    return send_all_on_commit([(group, event)])


def send_all_on_commit(messages: Sequence[tuple[str, Event | LateEvent]]) -> Push:
    """Send several events after commit, in order, in one trip to the layer."""
    push = Push(groups=[group for group, _ in messages])

    def send() -> None:
        ready: list[tuple[str, Event]] = []
        try:
            for group, event in messages:
                built = event() if callable(event) else event
                if built is not None:
                    ready.append((group, built))
        except Exception:
            logger.exception("building an event after commit failed; nothing was sent")
            _failed(push)
            return
        held = getattr(_held, "pushes", None)
        if held is not None:
            held.append((push, ready))
            return
        push.done = True
        push.delivered = _send(ready)

    # robust: whatever happens here, the request that stored the data succeeds.
    transaction.on_commit(send, robust=True)
    return push


_held = threading.local()


@dataclass
class Held:
    """Pushes held back by `holding()`, each with its events, in order."""

    pushes: list[tuple[Push, list[tuple[str, Event]]]] = field(default_factory=list)

    def send(self) -> None:
        """Send them all in one trip to the layer, from sync code."""
        if self.pushes:
            self._settle(_send(self._messages()))

    async def send_from_loop(self) -> None:
        """Send them all in one trip to the layer, from the event loop itself
        (no hop from a thread to the loop and back: about 0.2 ms of CPU)."""
        if self.pushes:
            self._settle(await _send_async(self._messages()))

    def _messages(self) -> list[tuple[str, Event]]:
        return [message for _, ready in self.pushes for message in ready]

    def _settle(self, delivered: bool) -> None:
        for push, _ in self.pushes:
            push.done = True
            push.delivered = delivered


@contextmanager
def holding() -> Iterator[Held]:
    """Hold the pushes this thread makes after its commits, for the caller to
    send together (`Held.send`, or `Held.send_from_loop` once a batch stored
    in a thread is back in its event loop: realtime.batch). Inside another
    hold, the outer one holds them and this one stays empty."""
    if getattr(_held, "pushes", None) is not None:
        yield Held()
        return
    held = Held()
    _held.pushes = held.pushes
    try:
        yield held
    finally:
        _held.pushes = None


@contextmanager
def coalesced() -> Iterator[None]:
    """Hold the pushes this thread makes after its commits, and send them all at
    the end, in order, in one trip to the layer (a batch of writes).
    Each `Push` is done, and says whether it was delivered, when this ends."""
    held = Held()
    try:
        with holding() as held:
            yield
    finally:
        held.send()


def _send(messages: list[tuple[str, Event]]) -> bool:
    """_send_async from sync code, with no hop to an event loop for nothing."""
    layer = get_channel_layer()
    if not messages:
        return layer is not None
    if getattr(layer, "reachable_from_any_loop", False) and not _awaited_by_a_loop():
        return _push_loop.send(layer, messages)
    return async_to_sync(_send_async)(messages)


def _awaited_by_a_loop() -> bool:
    """Whether this thread runs sync code for an event loop (a sync view, a
    db_call, a batch of sends in the server) or runs one itself: then the push
    belongs on that loop, as async_to_sync does it.

    asgiref keeps the loop that waits on a thread it runs sync code in on
    SyncToAsync.threadlocal (private: tests/realtime/test_canaries.py)."""
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        pass
    local = SyncToAsync.threadlocal
    return (
        getattr(local, "main_event_loop", None) is not None
        and getattr(local, "main_event_loop_pid", None) == os.getpid()
    )


class _PushLoop:
    """One event loop thread per process for the pushes of sync code no loop
    waits on: a task worker, a management command, a script.

    Why. There async_to_sync starts an event loop in a new thread for every
    call, and the channel layer opens a new connection to Redis for every
    loop: each push paid a thread, a loop and a TCP connection with its
    handshake (in one process on PostgreSQL, a batch of one send stored and
    pushed cost 4.0-5.4 ms of CPU that way, 2.0-2.4 ms this way). Here the
    loop, and the layer's connections on it, last as long as the process.
    Only for a layer that reaches sockets through Redis: the in-process one
    hands events to consumers directly and must run on their loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._layer: Any = None

    def send(self, layer: Any, messages: list[tuple[str, Event]]) -> bool:
        loop = self._running_loop()
        with self._lock:
            old, self._layer = self._layer, layer
        if old is not None and old is not layer:
            # The layer was made anew (its settings changed): the old one's
            # connections on this loop are closed, not left to the collector.
            try:
                self._run(loop, old.close_loop_layer())
            except Exception:
                # Cleaning up after a layer nobody uses is no reason to lose a push.
                logger.warning("closing a replaced layer's connections failed", exc_info=True)
        return self._run(loop, _send_async(messages))

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child has the parent's loop object but not its thread.
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._layer = None
                threading.Thread(
                    target=self._loop.run_forever, name="relay-push-loop", daemon=True
                ).start()
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


_push_loop = _PushLoop()


async def _send_async(messages: list[tuple[str, Event]]) -> bool:
    """Send `messages` in order in one trip to the layer; return whether it took them."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return layer is not None
    sent_at = time.time()  # for the delivery latency metric (realtime.layers)
    for _, event in messages:
        event.setdefault("sent_at", sent_at)
    try:
        many = getattr(layer, "group_send_many", None)  # ours: a trip per shard
        if many is not None:
            await many(messages)
        else:
            for group, event in messages:
                await layer.group_send(group, event)
    except Exception:
        metrics.here(metrics.layer_send_failures).inc()
        logger.warning(
            "push to %s failed; sockets catch up when they resync",
            ", ".join(sorted({group for group, _ in messages}))[:200],
            exc_info=True,
        )
        return False
    return True


def _failed(push: Push) -> None:
    push.done = True
    push.delivered = False
    metrics.here(metrics.layer_send_failures).inc()


async def send_now(group: str, event: Event) -> bool:
    """Send an event that is not stored (typing, presence) from async code;
    return whether the layer took it. A lost one is only a hint missed."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        await layer.group_send(group, event)
    except Exception:
        metrics.here(metrics.layer_send_failures).inc()
        logger.warning("push to %s failed", group, exc_info=True)
        return False
    return True
