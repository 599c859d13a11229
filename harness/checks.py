"""What the multi-process tests assert about what clients received, and small
measuring helpers."""

from __future__ import annotations

import asyncio
import math
import re
import time
import urllib.request
from collections.abc import Callable, Iterable

from harness.clients import RoomClient, sent_at, stamped

# Workers started with this METRICS_TOKEN serve /metrics to `scrape`.
METRICS_TOKEN = "integration-metrics-token"  # noqa: S105 (the test workers' own)


def acknowledged(senders: Iterable[RoomClient]) -> dict[int, str]:
    """Return seq -> client_id over every sender's acknowledgements."""
    by_seq: dict[int, str] = {}
    for sender in senders:
        for client_id, (seq, _) in sender.acked.items():
            assert seq not in by_seq, f"seq {seq} acknowledged for {by_seq[seq]} and {client_id}"
            by_seq[seq] = client_id
    return by_seq


def assert_every_message_once(
    receivers: Iterable[RoomClient], senders: Iterable[RoomClient]
) -> int:
    """Every send was acknowledged once; the room holds exactly those messages,
    one seq each with no gap; every receiver has each one (from where it started),
    once, in seq order. Return the last seq."""
    senders = list(senders)
    sent = sum(len(sender.sent_order) for sender in senders)
    by_seq = acknowledged(senders)
    assert all(not sender.outbox for sender in senders), "unacknowledged sends left"
    assert len(by_seq) == sent, f"{sent} sends, {len(by_seq)} distinct acknowledged messages"
    last = max(by_seq)
    assert sorted(by_seq) == list(range(1, last + 1)), "the room holds messages nobody sent"
    for receiver in receivers:
        assert not receiver.conflicts, (receiver.name, receiver.conflicts[:3])
        expected = range(receiver.start_after + 1, last + 1)
        assert sorted(receiver.received) == list(expected), (
            receiver.name,
            receiver.missing(last)[:10],
        )
        for seq in expected:
            assert receiver.received[seq]["client_id"] == by_seq[seq], (receiver.name, seq)
        assert receiver.contiguous == last, receiver.name
    return last


async def send_steadily(
    sender: RoomClient, count: int, rate: float, label: str, *, pad_to: int = 0
) -> None:
    """Send `count` stamped messages at `rate` per second, connected or not
    (unsent ones wait in the outbox)."""
    start = time.monotonic()
    for n in range(count):
        await sender.send(stamped(f"{label} {n}", pad_to))
        await asyncio.sleep(max(0.0, start + (n + 1) / rate - time.monotonic()))


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait for `predicate`; return the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true after {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def live_latencies(receiver: RoomClient, label: str) -> list[float]:
    """Seconds from send to live arrival for the messages whose body starts with `label`."""
    latencies = []
    for seq, message in receiver.received.items():
        when, how = receiver.arrived[seq]
        sent = sent_at(message["body"])
        if how == "live" and sent is not None and message["body"].startswith(label):
            latencies.append(when - sent)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def scrape(worker) -> str:
    """A worker's /metrics (started with METRICS_TOKEN)."""
    request = urllib.request.Request(  # noqa: S310 (our own loopback worker)
        f"{worker.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()


def total(text: str, name: str, **labels) -> float:
    """Sum a metric's series whose labels include `labels`."""
    found = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match:
            have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            if all(have.get(k) == v for k, v in labels.items()):
                found += float(match.group(2))
    return found
