"""realtime.worker on a real TCP connection (a socket pair, no reactor running):
the unsent-bytes count the slow-reader guard uses. (The fast send path is per
connection, in the application: tests/realtime/test_fastsend.py.)"""

import socket

import pytest
from twisted.internet import tcp
from twisted.internet.testing import MemoryReactor

from realtime.worker import unsent_bytes


@pytest.fixture
def connection():
    ours, theirs = socket.socketpair()
    reactor = MemoryReactor()
    connection = tcp.Connection(ours, None, reactor)
    connection.connected = 1  # as tcp.Server does once accepted
    yield connection, theirs, reactor
    ours.close()
    theirs.close()


def test_unsent_bytes_counts_what_twisted_holds_for_a_peer_that_does_not_read(connection):
    connection, peer, reactor = connection
    assert unsent_bytes(connection) == 0
    connection.write(b"queued")
    assert unsent_bytes(connection) == 6
    assert reactor.getWriters() == [connection]
    connection.doWrite()  # the reactor's turn: out to the socket
    peer.settimeout(5)
    assert peer.recv(100) == b"queued"
    assert unsent_bytes(connection) == 0

    big = b"x" * (16 * 1024 * 1024)  # more than the kernel takes while the peer sleeps
    connection.write(big)
    connection.doWrite()
    queued = unsent_bytes(connection)
    assert 0 < queued < len(big)


def test_a_settled_protocol_reads_every_option_from_its_class(daphne_server):
    from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
    from twisted.internet.testing import StringTransport

    from realtime.worker import settled_protocol

    factory = WebSocketFactory(daphne_server, server="Daphne")
    # The options set before the first connection, as Daphne's run() sets them.
    factory.setProtocolOptions(autoPingTimeout=7, allowNullOrigin=True, openHandshakeTimeout=9)
    stock = factory.buildProtocol(None)
    stock.makeConnection(StringTransport())
    factory.protocol = settled_protocol(factory)
    settled = factory.buildProtocol(None)
    settled.makeConnection(StringTransport())

    names = WebSocketProtocol.CONFIG_ATTRS
    assert len(names) > 20 and isinstance(settled, WebSocketProtocol)
    # The same option values a stock connection copied onto itself...
    assert {n: getattr(settled, n) for n in names} == {n: getattr(stock, n) for n in names}
    assert (settled.autoPingTimeout, settled.openHandshakeTimeout) == (7, 9)
    assert settled.perMessageCompressionAccept([]) is None  # a callback, not a method
    # ...none of them copied onto the connection.
    assert all(n in vars(stock) for n in names)
    assert not any(n in vars(settled) for n in names)
