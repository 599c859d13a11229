"""Real Twisted, autobahn and Daphne objects for the tests of the speed tricks
(realtime.fastsend, realtime.worker) and their canaries: no reactor runs; the
transports are Twisted's in-memory one or a real socket pair."""

import asyncio

import pytest
from daphne.ws_protocol import WebSocketFactory
from prometheus_client import REGISTRY
from twisted.internet.testing import StringTransport

from harness import in_memory
from realtime import metrics


@pytest.fixture
def daphne_server():
    return in_memory.new_server()


@pytest.fixture
def daphne_protocol(daphne_server):
    """Daphne's WebSocket protocol on a connection, before the handshake."""
    protocol = WebSocketFactory(daphne_server, server="Daphne").buildProtocol(None)
    protocol.makeConnection(StringTransport())
    return protocol


@pytest.fixture
def upgrade(daphne_server):
    """Run `application` on a connection Daphne upgrades from HTTP, as it does
    a browser's: return the HTTP connection and its in-memory transport (whose
    `protocol` is the WebSocket once upgraded). Cancels the application after."""

    def upgrade(application):
        return in_memory.upgrade(application, daphne_server)

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


class OpenWebSocket:
    """A socket Daphne upgraded (see `open_websocket`)."""

    def __init__(self, protocol, transport, received: list) -> None:
        self.protocol = protocol
        self.transport = transport
        self.received = received  # what its application got, in order

    def outcome(self) -> dict:
        """What reading the client's bytes made: what the application got, what
        went back to the client after the handshake, the protocol's state and its
        traffic figures."""
        written = self.transport.value()
        stats = self.protocol.trafficStats
        return {
            "received": list(self.received),
            "written": written[written.index(b"\r\n\r\n") + 4 :],
            "state": self.protocol.state,
            "failed": self.protocol.failedByMe,
            "stats": {
                name: getattr(stats, name)
                for name in (
                    "incomingOctetsWireLevel",
                    "incomingOctetsWebSocketLevel",
                    "incomingOctetsAppLevel",
                    "incomingWebSocketFrames",
                    "incomingWebSocketMessages",
                )
            },
        }


@pytest.fixture
def open_websocket():
    """Open a socket Daphne upgrades, on a server and an in-memory transport of its
    own at each call (autobahn's options as keywords), its application keeping
    what it receives. Cancels the applications after."""
    tasks: list[asyncio.Task] = []

    async def open_websocket(**options) -> OpenWebSocket:
        received: list = []
        accepted = asyncio.Event()

        async def application(scope, receive, send):
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            accepted.set()
            while True:
                received.append(await receive())

        _, transport = in_memory.upgrade(application, **options)
        await asyncio.wait_for(accepted.wait(), 5)
        return OpenWebSocket(transport.protocol, transport, received)

    yield open_websocket
    for task in tasks:
        task.cancel()
