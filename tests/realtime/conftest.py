"""Real Twisted, autobahn and Daphne objects for the tests of the speed tricks
(realtime.fastsend, realtime.worker) and their canaries: no reactor runs; the
transports are Twisted's in-memory one or a real socket pair."""

import pytest
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


@pytest.fixture
def fallbacks(monkeypatch):
    """Read relay_fast_path_fallbacks_total; each test starts with nothing logged yet."""
    monkeypatch.setattr(metrics, "_fallbacks_logged", set())

    def count(path: str, reason: str) -> float:
        labels = {"path": path, "reason": reason, "worker": metrics.WORKER}
        return REGISTRY.get_sample_value("relay_fast_path_fallbacks_total", labels) or 0.0

    return count
