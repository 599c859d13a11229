"""realtime.incoming on Daphne's real protocols: an upgraded connection's frames
reach the application without autobahn building a debug line for each chunk."""

import asyncio
import struct

from daphne.http_protocol import HTTPFactory
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

from realtime import incoming

HANDSHAKE = (
    b"GET /ws/chat/general/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n"
)


def client_text_frame(text: str) -> bytes:
    """A masked text frame, as a browser sends it (an all-zero mask keeps the
    payload as it is)."""
    payload = text.encode()
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + b"\0\0\0\0" + payload


async def open_socket(daphne_server):
    """A WebSocket upgraded by Daphne; return its protocol and what its app received."""
    received: asyncio.Queue = asyncio.Queue()

    async def application(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            await received.put(await receive())

    daphne_server.application = application
    daphne_server.connections = {}  # what run() sets up
    daphne_server.ws_factory = WebSocketFactory(daphne_server, server="Daphne")
    daphne_server.ws_factory.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=0)
    connection = HTTPFactory(daphne_server).buildProtocol(None)
    transport = StringTransport()
    connection.makeConnection(transport)
    connection.dataReceived(HANDSHAKE)
    for _ in range(100):
        if b"101 Switching Protocols" in transport.value():
            break
        await asyncio.sleep(0.01)
    return transport.protocol, received


async def test_frames_reach_the_app_without_a_debug_line_built_per_chunk(
    daphne_server, monkeypatch
):
    built = []

    def counting_hltype(thing):
        built.append(thing)
        return "<name>"

    monkeypatch.setattr("autobahn.twisted.websocket.hltype", counting_hltype)
    protocol, received = await open_socket(daphne_server)
    protocol.dataReceived(client_text_frame("before"))
    assert (await asyncio.wait_for(received.get(), 5))["text"] == "before"
    assert built  # autobahn's own method builds the line's arguments

    assert incoming.read_without_debug_line(protocol)
    built.clear()
    # Twisted's connection calls its protocol's dataReceived with what it reads.
    protocol.dataReceived(client_text_frame("after"))
    assert (await asyncio.wait_for(received.get(), 5))["text"] == "after"
    assert built == []
    for details in list(daphne_server.connections.values()):
        if "application_instance" in details:
            details["application_instance"].cancel()


def test_a_protocol_that_reads_its_own_way_is_left_alone(daphne_protocol):
    class OwnReading(type(daphne_protocol)):
        def dataReceived(self, data):
            self._dataReceived(data)

    daphne_protocol.__class__ = OwnReading
    assert not incoming.read_without_debug_line(daphne_protocol)
    assert "dataReceived" not in vars(daphne_protocol)

