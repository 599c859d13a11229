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
