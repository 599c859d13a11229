"""A client that stops reading while others flood its room: the others keep their
latency, the worker's memory stays bounded, and the `manage.py serve` worker drops
the slow client once REALTIME_MAX_SEND_BUFFER bytes wait for it; the client comes
back and resumes with no gap."""

import asyncio
import re
import time

import pytest

from harness.checks import (
    assert_every_message_once,
    live_latencies,
    ms,
    percentile,
    send_steadily,
    wait_until,
)
from harness.processes import proc_rss_kib

pytestmark = pytest.mark.integration

SEND_BUFFER = 262144
# Each flood: two senders, PER_SENDER messages of BODY characters at RATE per second.
PER_SENDER = 150
RATE = 25
# Small enough that a resume hello of everything the slow client missed fits in
# the 1 MiB framing limit (larger ones: test_resume.py).
BODY = 1500
DROPPED = "dropping a client that stopped reading"


@pytest.fixture
def guarded(start_worker):
    """A third worker that drops slow readers early."""
    return start_worker(REALTIME_MAX_SEND_BUFFER=str(SEND_BUFFER))


async def flood(senders, phase: str) -> None:
    await asyncio.gather(
        *(
            send_steadily(sender, PER_SENDER, RATE, f"{phase} {sender.name}", pad_to=BODY)
            for sender in senders
        )
    )
    for sender in senders:
        await sender.wait_acked(30)


async def test_client_that_stops_reading_is_dropped_without_slowing_the_others(
    workers, guarded, room, clients, figure
):
    _, b = workers
    senders = [await clients.room("alice", room, guarded), await clients.room("bob", room, b)]
    watchers = [
        await clients.room("carol", room, guarded),
        await clients.room("dave", room, guarded),
        await clients.room("erin", room, b),
    ]
    everyone = [*senders, *watchers]
    daphne = guarded.daphne_pid()

    async def flood_and_measure(phase: str) -> tuple[float, float, int]:
        """Flood; return the watchers' p50 and p95 latency and the worker's peak RSS."""
        peak = proc_rss_kib(daphne)
        flooding = asyncio.ensure_future(flood(senders, phase))
        while not flooding.done():
            peak = max(peak, proc_rss_kib(daphne))
            await asyncio.sleep(0.2)
        await flooding
        last = max(seq for sender in senders for seq, _ in sender.acked.values())
        for client in everyone:
            await client.wait_for_seq(last, 30)
        latencies = [x for w in watchers for x in live_latencies(w, phase)]
        assert len(latencies) >= 0.9 * len(watchers) * len(senders) * PER_SENDER
        return percentile(latencies, 50), percentile(latencies, 95), peak

    await flood(senders, "warmup")
    # Baselines without the slow client, before and after it (the box's load drifts).
    before = await flood_and_measure("base")
    rss_before = proc_rss_kib(daphne)

    # It starts from now: its hello would hold up to 500 earlier messages.
    now = max(seq for sender in senders for seq, _ in sender.acked.values())
    # A network's segment size and a small receive window: on loopback the
    # server's kernel would otherwise hold megabytes for it.
    slow = clients.room_client(
        "frank",
        room,
        guarded,
        fallback=False,
        max_queue=2,
        rcvbuf=4096,
        mss=1400,
        start_after=now,
    )
    await slow.start()
    slow.pause_reading()
    slow_p50, slow_p95, rss_peak = await flood_and_measure("slow")
    await wait_until(lambda: DROPPED in guarded.log(), 10, "the worker dropped the slow client")
    rss_after = proc_rss_kib(daphne)
    assert slow.connections == 1 and not slow.closes  # it has not read anything yet
    after = await flood_and_measure("again")
    base_p50, base_p95 = max(before[0], after[0]), max(before[1], after[1])

    # It comes back and resumes after its last contiguous seq, with no gap.
    resumed_at = time.monotonic()
    slow.resume_reading()
    await slow.wait_connected(2, 20)
    last = max(seq for sender in senders for seq, _ in sender.acked.values())
    await slow.wait_for_seq(last, 20)
    resumed_in = time.monotonic() - resumed_at
    assert slow.closes[0].code == 1006  # aborted by the server, no close frame
    assert_every_message_once([*everyone, slow], senders)
    for client in everyone:
        assert client.connections == 1, client.name

    unsent = re.search(rf"{DROPPED} \((\d+) bytes unsent\)", guarded.log())
    figure(
        f"slow client: watchers' latency p50/p95 {ms(before[0])}/{ms(before[1])} before it, "
        f"{ms(slow_p50)}/{ms(slow_p95)} while it stalled, {ms(after[0])}/{ms(after[1])} after "
        f"({len(senders) * PER_SENDER} messages of {BODY} chars per flood)"
    )
    figure(
        f"slow client: dropped with {unsent[1] if unsent else '?'} bytes unsent; Daphne RSS "
        f"{rss_before / 1024:.1f} MiB before, peak {rss_peak / 1024:.1f} MiB, "
        f"{rss_after / 1024:.1f} MiB after the drop; resumed with no gap in {ms(resumed_in)}"
    )
    # Generous bounds: the box has 2 cores shared by every process here.
    assert slow_p50 <= max(3 * base_p50, base_p50 + 0.25)
    assert slow_p95 <= max(3 * base_p95, base_p95 + 0.5)
    assert rss_after - rss_before < 32 * 1024
    assert rss_peak - rss_before < 48 * 1024
