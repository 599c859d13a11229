"""realtime.worker's eager write on a real TCP connection (a socket pair, no
reactor running), the unsent-bytes count the slow-reader guard uses, and the
counted fallback when Twisted lacks what the eager write relies on."""

import logging
import socket

import pytest
from twisted.internet import abstract, tcp
from twisted.internet.testing import MemoryReactor

from realtime import metrics
from realtime.worker import unsent_bytes, write_eagerly


@pytest.fixture
def twisted_write(monkeypatch):
    """Put Twisted's own write back after the test (write_eagerly replaces it)."""
    monkeypatch.setattr(abstract.FileDescriptor, "write", abstract.FileDescriptor.write)
    return abstract.FileDescriptor.write


@pytest.fixture
def connection():
    ours, theirs = socket.socketpair()
    reactor = MemoryReactor()
    connection = tcp.Connection(ours, None, reactor)
    connection.connected = 1  # as tcp.Server does once accepted
    yield connection, theirs, reactor
    ours.close()
    theirs.close()


def test_a_frame_goes_out_at_once_and_the_rest_waits_in_order(twisted_write, connection):
    connection, peer, reactor = connection
    assert write_eagerly(reactor) is True
    connection.write(b"frame")
    peer.settimeout(0)  # it must be there already: no reactor turn happened
    assert peer.recv(100) == b"frame"
    assert reactor.getWriters() == []

    big = b"x" * (16 * 1024 * 1024)  # more than the kernel takes while the peer sleeps
    connection.write(big)
    queued = unsent_bytes(connection)
    assert 0 < queued < len(big)
    assert reactor.getWriters() == [connection]
    connection.write(b"next")  # behind the queued bytes, never before them
    assert unsent_bytes(connection) == queued + 4


def test_a_twisted_without_a_relied_on_name_is_a_counted_fallback_logged_once(
    twisted_write, connection, monkeypatch, fallbacks, caplog
):
    _, _, reactor = connection
    monkeypatch.delattr(abstract.FileDescriptor, "_writeDisconnected")
    before = fallbacks("eager_write", "twisted_changed")
    with caplog.at_level(logging.WARNING, logger="realtime.metrics"):
        assert write_eagerly(reactor) is False
        assert write_eagerly(reactor) is False
    assert abstract.FileDescriptor.write is twisted_write
    assert fallbacks("eager_write", "twisted_changed") == before + 2
    assert caplog.text.count("Twisted no longer has Connection._writeDisconnected") == 1
    text = metrics.render()[0].decode()
    assert 'relay_fast_path_fallbacks_total{path="eager_write",reason="twisted_changed"' in text
