"""realtime.incoming on Daphne's real protocols: an upgraded connection's frames
reach the application without autobahn building a debug line for each chunk."""

import asyncio
import struct

from realtime import incoming


def client_text_frame(text: str) -> bytes:
    """A masked text frame, as a browser sends it (an all-zero mask keeps the
    payload as it is)."""
    payload = text.encode()
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + b"\0\0\0\0" + payload


async def open_socket(upgrade):
    """A WebSocket upgraded by Daphne; return its protocol and what its app received."""
    received: asyncio.Queue = asyncio.Queue()
    accepted = asyncio.Event()

    async def application(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        accepted.set()
        while True:
            await received.put(await receive())

    _, transport = upgrade(application)
    await asyncio.wait_for(accepted.wait(), 5)
    return transport.protocol, received


async def test_frames_reach_the_app_without_a_debug_line_built_per_chunk(upgrade, monkeypatch):
    built = []

    def counting_hltype(thing):
        built.append(thing)
        return "<name>"

    monkeypatch.setattr("autobahn.twisted.websocket.hltype", counting_hltype)
    protocol, received = await open_socket(upgrade)
    protocol.dataReceived(client_text_frame("before"))
    assert (await asyncio.wait_for(received.get(), 5))["text"] == "before"
    assert built  # autobahn's own method builds the line's arguments

    assert incoming.read_without_debug_line(protocol)
    built.clear()
    # Twisted's connection calls its protocol's dataReceived with what it reads.
    protocol.dataReceived(client_text_frame("after"))
    assert (await asyncio.wait_for(received.get(), 5))["text"] == "after"
    assert built == []


def test_a_protocol_that_reads_its_own_way_is_left_alone(daphne_protocol):
    class OwnReading(type(daphne_protocol)):
        def dataReceived(self, data):
            self._dataReceived(data)

    daphne_protocol.__class__ = OwnReading
    assert not incoming.read_without_debug_line(daphne_protocol)
    assert "dataReceived" not in vars(daphne_protocol)
