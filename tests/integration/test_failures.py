"""Failures while clients stay busy: a worker killed with SIGKILL, Redis stopped
and started again empty, and a graceful SIGTERM shutdown."""

import asyncio
import signal
import time

import pytest

from harness.checks import assert_every_message_once, ms, send_steadily, wait_until

pytestmark = pytest.mark.integration

NOTIFY = """
from django.contrib.auth import get_user_model
from notifications.services import notify
users = get_user_model().objects.filter(username__in=args['names'])
print(json.dumps([row.pk for row in notify(users, title=args['title'])]))
"""


async def test_clients_of_a_killed_worker_resume_on_the_other_with_every_message_once(
    workers, room, clients, figure
):
    a, b = workers
    sender_a = await clients.room("alice", room, a)
    sender_b = await clients.room("bob", room, b)
    on_b = [await clients.room(user, room, b) for user in ("carol", "dave", "erin")]
    on_a = [await clients.room("frank", room, a)]
    senders = [sender_a, sender_b]

    sending = asyncio.gather(
        send_steadily(sender_a, 100, 25, "alice"), send_steadily(sender_b, 100, 25, "bob")
    )
    await asyncio.sleep(1.5)
    killed_at = time.monotonic()
    await asyncio.to_thread(b.stop, sig=signal.SIGKILL)  # supervisor and child: no restart
    moved = [sender_b, *on_b]
    await wait_until(
        lambda: all(c.connections >= 2 for c in moved), 20, "B's clients connected again"
    )
    reconnected_in = time.monotonic() - killed_at
    await sending
    for sender in senders:
        await sender.wait_acked(20)
    last = max(seq for sender in senders for seq, _ in sender.acked.values())
    everyone = [*senders, *on_b, *on_a]
    for client in everyone:
        await client.wait_for_seq(last, 20)

    assert_every_message_once(everyone, senders)
    for client in moved:
        assert client.connections == 2, client.name
        assert client.closes[0].code == 1006  # killed: no close frame
        assert client.closes[0].url == b.url
        assert client.url == a.url  # resumed on the live worker
        # ... after the last seq it had without a gap, and got what followed.
        after = int(client.paths[1].rpartition("?after=")[2])
        resumed = [m["seq"] for m in client.hellos[1]["messages"]]
        assert resumed == list(range(after + 1, after + 1 + len(resumed))), client.name
    for client in [sender_a, *on_a]:
        assert client.connections == 1, client.name
    resent = sender_b.transmissions - len(sender_b.sent_order)
    figure(
        f"kill -9 worker B: its {len(moved)} clients resumed on A in {ms(reconnected_in)}; "
        f"{last} messages, each once everywhere; bob resent {resent} sends"
    )


async def test_redis_outage_sockets_stay_open_and_catch_up_without_gaps(
    stack, workers, room, clients, figure
):
    a, b = workers
    # No gap filling by the clients: whatever they miss, the server must resync.
    sender_a = await clients.room("alice", room, a, fill_gaps=False)
    sender_b = await clients.room("bob", room, b, fill_gaps=False)
    watch_a = await clients.room("carol", room, a, fill_gaps=False)
    watch_b = await clients.room("dave", room, b, fill_gaps=False)
    bell_a = await clients.notifications("carol", a)
    bell_b = await clients.notifications("dave", b)
    senders = [sender_a, sender_b]
    rooms = [sender_a, sender_b, watch_a, watch_b]

    sending = asyncio.gather(
        send_steadily(sender_a, 80, 8, "alice"), send_steadily(sender_b, 80, 8, "bob")
    )
    await asyncio.sleep(2)
    before_outage = {sender.name: len(sender.acked) for sender in senders}
    down_at = time.monotonic()
    await asyncio.to_thread(stack.redis.stop)
    # A notification stored while Redis is away (from another process).
    await asyncio.to_thread(stack.shell, NOTIFY, names=["carol", "dave"], title="during outage")
    await asyncio.sleep(max(0.0, down_at + 5 - time.monotonic()))
    # Taken before the start: recovery can complete before start() returns,
    # on a loaded machine, as the workers notice Redis within milliseconds.
    up_at = time.monotonic()
    await asyncio.to_thread(stack.redis.start)  # empty: no subscriptions, no presence
    # The last message acknowledged while Redis was away.
    outage_last = max(
        seq for s in senders for c, (seq, _) in s.acked.items() if s.ack_at[c] < up_at
    )
    await sending
    for sender in senders:
        await sender.wait_acked(30)
    last = max(seq for sender in senders for seq, _ in sender.acked.values())
    for client in rooms:
        await client.wait_for_seq(last, 20)
    # When each watcher had everything sent during the outage; how many it got
    # only from the server's resync (not live while Redis was away).
    caught_up_in = max(
        max(w.arrived[seq][0] for seq in range(1, outage_last + 1)) - up_at
        for w in (watch_a, watch_b)
    )
    resynced = min(
        sum(1 for seq in range(1, outage_last + 1) if w.arrived[seq][0] > up_at)
        for w in (watch_a, watch_b)
    )
    assert resynced > 0  # the outage did stop live delivery between the workers
    for bell in (bell_a, bell_b):
        await bell.wait_for_title("during outage", 15)

    # Live delivery works again on both workers, on the same sockets.
    probes = []
    for sender, watcher in ((sender_a, watch_b), (sender_b, watch_a)):
        client_id = await sender.send(f"probe from {sender.name}")
        await sender.wait_acked(5)
        seq = sender.acked[client_id][0]
        await watcher.wait_for_seq(seq, 5)
        arrived, how = watcher.arrived[seq]
        assert how == "live"
        probes.append(arrived - sender.first_sent[client_id])
    await asyncio.to_thread(stack.shell, NOTIFY, names=["carol", "dave"], title="after outage")
    for bell in (bell_a, bell_b):
        await bell.wait_for_title("after outage", 10)
        assert bell.duplicates == 0
        assert bell.connections == 1

    assert_every_message_once(rooms, senders)
    for client in rooms:
        assert client.connections == 1, (client.name, client.closes)
    during = sum(len(s.acked) for s in senders) - sum(before_outage.values())
    slowest_ack = max(s.ack_at[c] - s.first_sent[c] for s in senders for c in s.acked)
    errors = {code: n for s in senders for code, n in s.retry_errors.items()}
    figure(
        f"redis outage 5 s: {last} messages ({during} sent from the outage on), no reconnects; "
        f"watchers got {resynced}+ outage messages by the server's resync, all of them "
        f"{ms(caught_up_in)} after Redis was back; slowest ack "
        f"{ms(slowest_ack)}; errors retried {errors or 'none'}; live probes after "
        f"{', '.join(ms(p) for p in probes)}"
    )


async def test_sigterm_to_serve_closes_its_sockets_with_1001(workers, room, clients, figure):
    a, b = workers
    on_b = [
        await clients.room("alice", room, b),
        await clients.room("bob", room, b),
        await clients.notifications("bob", b),
    ]
    stays = await clients.room("carol", room, a)
    await on_b[0].send("before the shutdown")
    await on_b[0].wait_acked(5)

    stopped_at = time.monotonic()
    b.terminate()  # SIGTERM to the supervisor, as a process manager sends it
    await wait_until(lambda: all(c.closes for c in on_b), 10, "B's sockets closed")
    closed_in = time.monotonic() - stopped_at
    assert [c.closes[0].code for c in on_b] == [1001, 1001, 1001]
    await asyncio.to_thread(b.process.wait, 20)
    assert b.process.returncode == 0

    # They come back on A (1001 means: reconnect to a live worker and resume).
    for client in on_b:
        await client.wait_connected(2, 20)
        assert client.url == a.url
    await on_b[1].send("after the shutdown")
    await on_b[1].wait_acked(5)
    for client in [*on_b[:2], stays]:
        await client.wait_for_seq(2, 5)
    assert stays.connections == 1
    figure(f"SIGTERM to serve: 3 sockets closed with 1001 in {ms(closed_in)}")
