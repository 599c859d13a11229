"""A WebSocket Daphne upgrades from HTTP as it does a browser's, over Twisted's
in-memory transport, with no reactor running: for the tests and benchmarks of the
tricks on Daphne's and autobahn's real protocols."""

import struct

from daphne.http_protocol import HTTPFactory
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

HANDSHAKE = (
    b"GET /ws/chat/general/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n"
)


def new_server() -> Server:
    # Endpoints are only stored until run(), which nobody calls here.
    return Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])


def upgrade(application, server: Server | None = None, **options):
    """Run the ASGI `application` on a connection `server` (a new one by default)
    upgrades; autobahn's options as keywords. Return the HTTP connection and its
    transport, whose `protocol` is the WebSocket once the application accepts."""
    server = server or new_server()
    server.application = application
    server.connections = {}  # what run() sets up
    server.ws_factory = WebSocketFactory(server, server="Daphne")
    server.ws_factory.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=0, **options)
    connection = HTTPFactory(server).buildProtocol(None)
    transport = StringTransport()
    connection.makeConnection(transport)
    connection.dataReceived(HANDSHAKE)
    return connection, transport


def client_frame(
    payload: bytes,
    *,
    opcode: int = 1,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = b"\x9a\x3c\x05\xe7",
    long16: bool = False,
) -> bytes:
    """A frame as a client sends it (a text frame unless `opcode` says other):
    masked with `mask` (None: unmasked), its length in the shortest encoding
    unless `long16` forces two bytes."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    masked = 0x80 if mask is not None else 0
    size = len(payload)
    if size < 126 and not long16:
        head = struct.pack("!BB", first, masked | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, masked | 126, size)
    else:
        head = struct.pack("!BBQ", first, masked | 127, size)
    if mask is None:
        return head + payload
    return head + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
