"""Real Twisted, autobahn and Daphne objects for the tests of the speed tricks
(realtime.fastsend, realtime.worker) and their canaries: no reactor runs; the
transports are Twisted's in-memory one or a real socket pair."""

import pytest
from daphne.http_protocol import HTTPFactory
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from prometheus_client import REGISTRY
from twisted.internet.testing import StringTransport

from realtime import metrics


@pytest.fixture
def daphne_server():
    # Endpoints are only stored until run(), which no test calls.
    return Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])


@pytest.fixture
def daphne_protocol(daphne_server):
    """Daphne's WebSocket protocol on a connection, before the handshake."""
    protocol = WebSocketFactory(daphne_server, server="Daphne").buildProtocol(None)
    protocol.makeConnection(StringTransport())
    return protocol


HANDSHAKE = (
    b"GET /ws/chat/general/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n"
)


@pytest.fixture
def upgrade(daphne_server):
    """Run `application` on a connection Daphne upgrades from HTTP, as it does
    a browser's: return the HTTP connection and its in-memory transport (whose
    `protocol` is the WebSocket once upgraded). Cancels the application after."""

    def upgrade(application):
        daphne_server.application = application
        daphne_server.connections = {}  # what run() sets up
        daphne_server.ws_factory = WebSocketFactory(daphne_server, server="Daphne")
        daphne_server.ws_factory.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=0)
        connection = HTTPFactory(daphne_server).buildProtocol(None)
        transport = StringTransport()
        connection.makeConnection(transport)
        connection.dataReceived(HANDSHAKE)
        return connection, transport

    yield upgrade
    for details in list(getattr(daphne_server, "connections", {}).values()):
        if "application_instance" in details:
            details["application_instance"].cancel()


@pytest.fixture
def fallbacks(monkeypatch):
    """Read relay_fast_path_fallbacks_total; each test starts with nothing logged yet."""
    monkeypatch.setattr(metrics, "_fallbacks_logged", set())

    def count(path: str, reason: str) -> float:
        labels = {"path": path, "reason": reason, "worker": metrics.WORKER}
        return REGISTRY.get_sample_value("relay_fast_path_fallbacks_total", labels) or 0.0

    return count
