"""A reconnect storm: 200 sockets across both workers drop at the same moment
while messages keep flowing, reconnect at once, resume by seq and end complete."""

import asyncio
import time
from collections import Counter

import pytest

from harness.checks import assert_every_message_once, ms, send_steadily, wait_until

pytestmark = pytest.mark.integration

SOCKETS_PER_USER = 20  # 10 users: 200 sockets, under the cap of 60 per user


async def test_reconnect_storm_of_200_sockets_ends_complete_and_in_order(
    workers, room, clients, figure, storm_users
):
    a, b = workers
    senders = [await clients.room("alice", room, a), await clients.room("bob", room, b)]
    crowd = [
        clients.room_client(user, room, (a, b)[n % 2])
        for user in storm_users
        for n in range(SOCKETS_PER_USER)
    ]
    started = time.monotonic()
    await asyncio.gather(*(client.start(timeout=60) for client in crowd))
    connected_in = time.monotonic() - started

    sending = asyncio.gather(*(send_steadily(sender, 60, 8, sender.name) for sender in senders))
    await asyncio.sleep(2)
    dropped_at = time.monotonic()
    for client in crowd:
        client.drop()
    await wait_until(
        lambda: all(client.connections >= 2 for client in crowd), 90, "every socket is back"
    )
    back_in = time.monotonic() - dropped_at
    await sending
    for sender in senders:
        await sender.wait_acked(30)
    last = max(seq for sender in senders for seq, _ in sender.acked.values())
    caught_up_in = time.monotonic()
    await asyncio.gather(*(client.wait_for_seq(last, 60) for client in crowd))
    caught_up_in = time.monotonic() - caught_up_in

    assert_every_message_once([*senders, *crowd], senders)
    for client in crowd:
        assert client.closes[0].code == 1006  # dropped by the client, no close frame
        assert not any(close.code in {1011, 4429} for close in client.closes), client.closes
    refused = Counter(error.split(":")[0] for client in crowd for error in client.connect_errors)
    extra = sum(client.connections - 2 for client in crowd)
    figure(
        f"storm: 200 sockets connected in {ms(connected_in)}; after all dropped at once, "
        f"every one was back (resumed by seq) in {ms(back_in)}; failed handshakes: "
        f"{dict(refused) or 'none'}, {extra} extra reconnects; {last} messages, complete "
        f"{ms(caught_up_in)} after the last ack"
    )
