"""The one way events reach sockets through the channel layer, with one
failure policy, used by every app's `events.py` (as Zulip's
`send_event_on_commit`).

Stored data is pushed only after its transaction commits: nobody hears of a
row a rollback took back. A push that fails (Redis away) loses nothing: the
data is stored and sockets catch up by seq or id when they resync or resume.
It is logged and counted, and the returned `Push` says so, so that the one
who caused it (the sending socket) can be answered directly.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
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


@contextmanager
def coalesced() -> Iterator[None]:
    """Hold the pushes this thread makes after its commits, and send them all at
    the end, in order, in one trip to the layer (a batch of writes: realtime.batch).
    Each `Push` is done, and says whether it was delivered, when this ends."""
    if getattr(_held, "pushes", None) is not None:
        yield  # already inside: the outer one sends
        return
    held: list[tuple[Push, list[tuple[str, Event]]]] = []
    _held.pushes = held
    try:
        yield
    finally:
        _held.pushes = None
        if held:
            delivered = _send([message for _, ready in held for message in ready])
            for push, _ in held:
                push.done = True
                push.delivered = delivered


def _send(messages: list[tuple[str, Event]]) -> bool:
    layer = get_channel_layer()
    if layer is None or not messages:
        return layer is not None

    async def send_all() -> None:
        # (looked up in the loop: the stock pubsub layer's attributes are its loop's)
        many = getattr(layer, "group_send_many", None)  # ours: a trip per shard
        if many is not None:
            await many(messages)
            return
        for group, event in messages:
            await layer.group_send(group, event)

    sent_at = time.time()  # for the delivery latency metric (realtime.layers)
    for _, event in messages:
        event.setdefault("sent_at", sent_at)
    try:
        async_to_sync(send_all)()
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
