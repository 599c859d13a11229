"""Prometheus metrics of every socket, per worker process (label `worker`), so
a scrape adds up. Each app keeps its own in its `metrics.py`.

Under `manage.py serve` every worker writes its metrics to files in
PROMETHEUS_MULTIPROC_DIR (set by the supervisor), and `/metrics` on any worker
reports all of that machine's workers. Elsewhere (runserver, tests) the
process's own registry is reported.
"""

import asyncio
import functools
import logging
import os
import socket

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
WORKER = os.environ.get("REALTIME_WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def here(metric, *labels: str):
    """This worker's series of a metric with these `labels` (then `worker`),
    looked up once: for metrics bumped per socket or per event (a broadcast
    bumps them thousands of times, every room message once per worker), where
    `labels()` on every bump showed in profiles. The labels must come from a
    small fixed set (event types, socket kinds, refusal codes): each series
    stays cached for the life of the process."""
    return metric.labels(*labels, WORKER)


class _Summed:
    """A counter series whose bumps within one pass of the event loop are
    added up and given to it once, when that pass ends (see `here_summed`)."""

    __slots__ = ("_pending", "_series")

    def __init__(self, series) -> None:
        self._series = series
        self._pending = 0

    def inc(self, amount: int = 1) -> None:
        if not self._pending:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # No loop in this thread: nothing would run the sum.
                self._series.inc(amount)
                return
            loop.call_soon(self._add)
        self._pending += amount

    def _add(self) -> None:
        amount, self._pending = self._pending, 0
        self._series.inc(amount)


@functools.cache
def here_summed(metric, *labels: str) -> _Summed:
    """`here`, for a counter bumped once per socket by event-loop code (a
    broadcast's frames): the bumps of one pass of the loop reach the series as
    one. Under `serve` each bump of a series takes a lock and writes a
    file-backed map: once per socket that was a fifth of a worker's CPU in
    delivering a broadcast (py-spy --gil, 10,000 sockets)."""
    return _Summed(here(metric, *labels))


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

sockets_open = Gauge(
    "relay_sockets_open",
    "Open WebSockets",
    ["kind", "worker"],
    multiprocess_mode="livesum",
)
events_delivered = Counter(
    "relay_events_delivered",
    "Group events handed to this worker's sockets (chat.message: room messages delivered)",
    ["event", "worker"],
)
frames_refused = Counter(
    "relay_frames_refused",
    "Client frames refused (invalid, too_large, rate_limited, forbidden, not_found)",
    ["reason", "worker"],
)
header_timeouts = Counter(
    "relay_header_timeouts",
    "HTTP connections closed because a request's headers took over REALTIME_HEADER_TIMEOUT",
    ["worker"],
)
layer_send_failures = Counter(
    "relay_channel_layer_send_failures", "Channel-layer sends that failed", ["worker"]
)
layer_reconnects = Counter(
    "relay_channel_layer_reconnects", "Times Redis came back after an outage", ["worker"]
)
presence_turns = Counter(
    "relay_presence_turns",
    "A worker's turns to announce who is online in a room: new (announced), "
    "same (the room as last announced: nothing sent), wait (another worker announced lately)",
    ["verdict", "worker"],
)
resumes = Counter("relay_resumes", "Sockets that resumed with ?after=", ["kind", "worker"])
resume_replayed = Counter(
    "relay_resume_replayed", "Messages or notifications sent by resumes", ["kind", "worker"]
)
handshake_seconds = Histogram(
    "relay_handshake_seconds",
    "From connect to hello sent",
    ["kind", "worker"],
    buckets=LATENCY_BUCKETS,
)
delivery_seconds = Histogram(
    "relay_delivery_seconds",
    "From the push after commit to the last write on this worker's sockets, per event",
    ["event", "worker"],
    buckets=LATENCY_BUCKETS,
)
# A pass of the collector stops its worker: a full one (generation 2) walks every
# object the worker's sockets keep, about a second at 9,000 sockets (realtime.collector).
GC_PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
gc_pause_seconds = Histogram(
    "relay_gc_pause_seconds",
    "Passes of Python's garbage collector, by generation (2: full); the worker does "
    "nothing else meanwhile",
    ["generation", "worker"],
    buckets=GC_PAUSE_BUCKETS,
)

fast_path_fallbacks = Counter(
    "relay_fast_path_fallbacks",
    "Times a speed trick was not used (path: prepared_frames per socket, eager_write per "
    "transport class), by reason",
    ["path", "reason", "worker"],
)
fast_path_sockets = Counter(
    "relay_fast_path_sockets",
    "Sockets that send on their own connection's fast path (realtime.fastsend)",
    ["worker"],
)

_fallbacks_logged: set[tuple[str, str]] = set()


def fast_path_fallback(path: str, reason: str, detail: str) -> None:
    """Count a fast path not taken; say why once per process, so a slower
    worker is never a silent one."""
    fast_path_fallbacks.labels(path, reason, WORKER).inc()
    if (path, reason) not in _fallbacks_logged:
        _fallbacks_logged.add((path, reason))
        logger.warning(
            "fast path %s not taken (%s): %s. Counted in relay_fast_path_fallbacks_total; "
            "logged once per process.",
            path,
            reason,
            detail,
        )


def render() -> tuple[bytes, str]:
    """Return the exposition text and its content type."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
