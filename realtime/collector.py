"""Python's cyclic garbage collector, for a server that holds many sockets.

A full collection walks every object alive and stops the worker while it does.
With Python's defaults (a full collection after ten middle ones, once a
quarter of the long-lived objects are new), a worker in a rooms run at
1,000 sends/s after the fanout workload made about 30 full collections over
10 ms, 5.7 s in all, the longest 485 ms: that is the p99 of a room's messages
(gc callbacks timing each collection, bench/main.py --workloads
idle,fanout,rooms). So, once the application is loaded:

- `gc.freeze()` moves what exists by then (the imported code, settings, URL
  patterns), which stays alive anyway, out of the collector's sight: a full
  collection walks only what sockets and requests made.
- A full collection waits for 100 middle ones instead of 10.

With both, the same run made 10 full collections over 10 ms, 0.8 s in all,
the longest 208 ms, and a join of 2,000 users cost 2.7 ms of CPU per
handshake instead of 3.4. The price: cyclic garbage waits longer for its
collection, 25.5 KiB per idle socket measured after a connect wave instead of
23 (the young collections, which free most of it, keep Python's threshold:
collecting them every 10,000 objects instead made handshakes slower).

What a full collection still costs grows with the sockets a worker holds (about
95 tracked objects each): 0.6 to 0.7 s at 4,500 sockets, 1 s at 9,000 (the
moonshot workload). Every pass is timed into `relay_gc_pause_seconds`
(realtime.metrics), so an operator sees the pauses before users feel them.
"""

import asyncio
import gc
import time
from collections import deque
from typing import Any

from . import metrics

FULL_AFTER = 100  # middle collections between two full ones (Python's default: 10)


def settle() -> None:
    """Freeze what is alive now, space out the full collections and time every
    pass (see above)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
    if _pauses.timed not in gc.callbacks:
        gc.callbacks.append(_pauses.timed)


class _Pauses:
    """Each pass's duration, given to the metric from the event loop.

    The collector runs inside whatever allocation set it off, possibly in
    prometheus_client's own code while it holds its lock, which is not
    reentrant: observing from the callback could wait on itself for ever. So
    the callback only notes the duration, and has the next pass of this
    thread's event loop hand the durations noted so far to the histogram. A
    pass in a thread without a loop (a database thread) waits for the loop
    thread's next one; the young passes come many times a second."""

    def __init__(self) -> None:
        self.started = 0.0
        # A deque: appended to and emptied from any thread without a lock.
        self.noted: deque[tuple[int, float]] = deque()
        self.waiting_on: asyncio.AbstractEventLoop | None = None  # the loop due to observe

    def timed(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        self.noted.append((info["generation"], time.perf_counter() - self.started))
        loop = asyncio._get_running_loop()
        if loop is not None and loop is not self.waiting_on:
            self.waiting_on = loop
            loop.call_soon(self.observe)

    def observe(self) -> None:
        self.waiting_on = None
        noted = self.noted
        while noted:
            generation, seconds = noted.popleft()
            metrics.here(metrics.gc_pause_seconds, str(generation)).observe(seconds)


_pauses = _Pauses()
