"""Bad frames on real Daphne framing: invalid UTF-8 and a frame over the 1 MiB
framing limit are closed by the WebSocket layer, a 70 KiB frame by the app with
4413; the other connections on the same worker never notice."""

import contextlib
import json

import pytest
from websockets.exceptions import ConnectionClosed

from harness.checks import wait_until
from harness.clients import RoomClient

pytestmark = pytest.mark.integration


async def attack(client: RoomClient, payload, *, text: bool = True) -> int | None:
    """Send one raw frame; return the close code the socket ended with."""
    with contextlib.suppress(ConnectionClosed):
        await client.ws.send(payload, text=text)
    await wait_until(lambda: bool(client.closes), 10, f"{client.name} closed")
    return client.closes[0].code


async def test_bad_frames_are_closed_without_affecting_other_connections(
    workers, room, clients, figure
):
    a, b = workers
    sender = await clients.room("alice", room, a)
    watchers = [await clients.room("bob", room, a), await clients.room("carol", room, b)]
    await sender.send("before")
    await sender.wait_acked(5)

    def attacker(name: str) -> RoomClient:
        return clients.room_client(name, room, a, fallback=False, reconnect=False)

    utf8 = await attacker("dave").start()
    bad_utf8_code = await attack(utf8, b'{"type": "send", "body": "\xff\xfe", "client_id": "u"}')
    huge = await attacker("erin").start()
    huge_code = await attack(huge, "x" * (2 * 2**20))
    big = await attacker("frank").start()
    body = "y" * (70 * 1024)
    big_code = await attack(big, json.dumps({"type": "send", "body": body, "client_id": "big"}))

    # The WebSocket layer (autobahn, failByDrop) drops these connections, or
    # closes them with 1007 (invalid payload) and 1009 (too big).
    assert bad_utf8_code in {1006, 1007}
    assert huge_code in {1006, 1009}
    assert big_code == 4413  # the app's limit; nothing stored (checked below)

    # Nothing else noticed: same sockets, live delivery on both workers.
    await sender.send("after")
    await sender.wait_acked(5)
    for client in [sender, *watchers]:
        await client.wait_for_seq(2, 5)
        assert client.connections == 1 and not client.closes
        assert [m["body"] for m in client.received.values()] == ["before", "after"]
    for worker in workers:
        assert worker.alive()
    figure(
        f"framing: invalid UTF-8 closed {bad_utf8_code}, 2 MiB frame closed {huge_code}, "
        f"70 KiB frame closed {big_code}; other sockets unaffected"
    )
