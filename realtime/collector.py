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
"""

import gc

FULL_AFTER = 100  # middle collections between two full ones (Python's default: 10)


def settle() -> None:
    """Freeze what is alive now and space out the full collections (see above)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
