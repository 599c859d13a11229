"""realtime.fastsend on real Daphne, autobahn and Twisted objects: a frame is
built once for every socket, written to a real socket at once when nothing is
queued and behind what is queued otherwise, Twisted itself untouched; Daphne's
send is recognised, and when it or the transport is not what the fast path
knows, the fallback is counted and logged once."""

import asyncio
import contextlib
import functools
import logging
import socket

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import abstract, tcp
from twisted.internet.testing import MemoryReactor, StringTransport

from realtime import fastsend, metrics
from realtime.worker import unsent_bytes

HANDSHAKE = (
    b"GET /ws/chat/general/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture
def factory():
    factory = WebSocketServerFactory("ws://127.0.0.1")
    factory.protocol = WebSocketServerProtocol
    factory.setProtocolOptions(openHandshakeTimeout=0, autoPingInterval=0)
    return factory


def open_protocol(factory, transport) -> WebSocketServerProtocol:
    """An autobahn server protocol after a real opening handshake."""
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(transport)
    protocol.dataReceived(HANDSHAKE)
    assert protocol.state == protocol.STATE_OPEN
    return protocol


@pytest.fixture
def tcp_socket(factory):
    """An open autobahn protocol on a real Twisted TCP server connection over a socket
    pair (no reactor runs), its 101 response already on the wire, and the peer."""
    ours, theirs = socket.socketpair()
    reactor = MemoryReactor()
    # What Twisted's port makes of an accepted connection, as under Daphne.
    protocol = factory.buildProtocol(None)
    connection = tcp.Server(ours, protocol, ("127.0.0.1", 40000), None, 1, reactor)
    connection.connected = 1  # as the port does once accepted
    protocol.makeConnection(connection)
    protocol.dataReceived(HANDSHAKE)
    assert protocol.state == protocol.STATE_OPEN
    connection.doWrite()  # the reactor's turn for the queued 101 response
    theirs.settimeout(5)
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += theirs.recv(4096)
    assert response.startswith(b"HTTP/1.1 101")
    theirs.settimeout(0)
    yield protocol, connection, theirs, reactor
    ours.close()
    theirs.close()


def read_all(peer: socket.socket, size: int) -> bytes:
    peer.settimeout(5)
    data = b""
    while len(data) < size:
        data += peer.recv(size - len(data))
    return data


def test_frames_are_plain_rfc_6455_text_frames():
    assert fastsend.frame_text(b"hello") == b"\x81\x05hello"  # FIN + text, unmasked
    assert fastsend.frame_text(b"x" * 125)[:2] == b"\x81\x7d"
    assert fastsend.frame_text(b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert fastsend.frame_text(b"x" * 65535)[:4] == b"\x81\x7e\xff\xff"
    assert fastsend.frame_text(b"x" * 65536)[:10] == b"\x81\x7f" + (65536).to_bytes(8, "big")


def test_a_shared_message_is_framed_once_and_written_to_every_socket(factory):
    sockets = []
    for _ in range(3):
        transport = StringTransport()
        sockets.append((open_protocol(factory, transport), transport))
        transport.clear()
    shared = {"type": "chat.message"}
    for protocol, _ in sockets:
        fastsend.send_text(protocol, "hello", shared)
    frame = shared["_frame"]
    for protocol, transport in sockets:
        assert transport.value() == b"\x81\x05hello"
        fastsend.send_text(protocol, "hello", shared)
    assert shared["_frame"] is frame


def test_our_frames_are_the_bytes_autobahn_would_send(factory, tcp_socket):
    protocol, _connection, peer, _ = tcp_socket
    for text in ("short", "é" * 40000, "x" * 70000):  # 7-, 16- and 64-bit lengths
        assert fastsend.frame_text(text.encode()) == (
            factory.prepareMessage(text.encode()).payloadHybi
        )
    fastsend.send_text(protocol, "é" * 40000)
    fastsend.send_text(protocol, "short")
    expected = fastsend.frame_text(("é" * 40000).encode()) + b"\x81\x05short"
    assert read_all(peer, len(expected)) == expected


def test_a_frame_goes_out_at_once_and_the_rest_waits_in_order(tcp_socket):
    protocol, connection, peer, reactor = tcp_socket
    assert fastsend.can_write_eagerly(connection)
    fastsend.send_text(protocol, "first")
    # It is there already: no reactor turn happened, nothing was queued.
    assert peer.recv(100) == b"\x81\x05first"
    assert reactor.getWriters() == []
    assert unsent_bytes(connection) == 0

    big = "x" * (16 * 1024 * 1024)  # more than the kernel takes while the peer sleeps
    fastsend.send_text(protocol, big)
    queued = unsent_bytes(connection)
    assert 0 < queued < len(big)
    assert reactor.getWriters() == [connection]  # the rest waits for writability
    fastsend.send_text(protocol, "next")  # behind the queued bytes, never before them
    assert unsent_bytes(connection) == queued + 6

    # The reader catches up: every byte, in order.
    expected = fastsend.frame_text(big.encode()) + b"\x81\x04next"
    received = bytearray()
    peer.settimeout(5)
    while len(received) < len(expected):
        connection.doWrite()
        with contextlib.suppress(BlockingIOError):
            received += peer.recv(1 << 20)
    assert bytes(received) == expected


def test_several_texts_go_out_in_one_send_in_order(tcp_socket, monkeypatch):
    protocol, connection, peer, _ = tcp_socket
    sends = []
    monkeypatch.setattr(connection, "socket", _Spy(connection.socket, sends))
    shared = {"type": "chat.message"}
    fastsend.send_texts(protocol, [("one", None), ("two", shared), ("three", None)])

    expected = b"\x81\x03one\x81\x03two\x81\x05three"
    assert read_all(peer, len(expected)) == expected
    assert sends == [expected]  # one system call for the three frames
    assert shared["_frame"] == b"\x81\x03two"  # framed once for every socket


class _Spy:
    """A socket whose send() calls are recorded."""

    def __init__(self, sock: socket.socket, sends: list) -> None:
        self._sock = sock
        self._sends = sends

    def send(self, data: bytes) -> int:
        self._sends.append(bytes(data))
        return self._sock.send(data)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def test_twisted_itself_is_left_as_it_is(tcp_socket):
    protocol, _connection, _peer, _ = tcp_socket
    write = abstract.FileDescriptor.write
    fastsend.send_text(protocol, "hello")
    assert abstract.FileDescriptor.write is write
    assert write.__module__ == "twisted.internet.abstract"
    # Another connection, not given to the fast path, still queues for the reactor.
    ours, theirs = socket.socketpair()
    other = tcp.Connection(ours, None, MemoryReactor())
    other.connected = 1
    other.write(b"plain")
    assert unsent_bytes(other) == 5
    ours.close()
    theirs.close()


def test_a_closing_connection_is_written_the_twisted_way(tcp_socket):
    _protocol, connection, _peer, _reactor = tcp_socket
    connection.disconnecting = True
    fastsend.write_eagerly(connection, b"late")
    assert unsent_bytes(connection) == 4  # Twisted's buffer decides what happens to it


def test_a_transport_without_twisteds_private_names_is_a_counted_fallback(
    factory, fallbacks, caplog, monkeypatch
):
    monkeypatch.setattr(fastsend, "_eager_transports", {})
    transport = StringTransport()  # no socket, no Twisted write buffer
    protocol = open_protocol(factory, transport)
    transport.clear()
    before = fallbacks("eager_write", "twisted_changed")
    with caplog.at_level(logging.WARNING, logger="realtime.metrics"):
        fastsend.send_text(protocol, "one")
        fastsend.send_text(protocol, "two")
    assert transport.value() == b"\x81\x03one\x81\x03two"  # through its own write
    assert fallbacks("eager_write", "twisted_changed") == before + 1
    assert caplog.text.count("StringTransport has no socket") == 1
    text = metrics.render()[0].decode()
    assert 'relay_fast_path_fallbacks_total{path="eager_write",reason="twisted_changed"' in text


@pytest.mark.parametrize("texts", [["hello"], ["one", "two"]])
def test_compression_or_autobahns_own_queue_means_autobahns_send(factory, texts):
    transport = StringTransport()
    protocol = open_protocol(factory, transport)
    transport.clear()
    protocol.send_queue.append((b"", False))  # autobahn is chopping a write
    sent = []
    protocol.sendMessage = lambda payload, binary: sent.append(payload)
    if len(texts) == 1:
        fastsend.send_text(protocol, texts[0])
    else:
        fastsend.send_texts(protocol, [(text, None) for text in texts])
    assert sent == [text.encode() for text in texts]
    assert transport.value() == b""


async def test_daphnes_send_leads_to_its_protocol(daphne_server, daphne_protocol, fallbacks):
    sends = []

    async def application(scope, receive, send):
        sends.append(send)

    daphne_server.application = application
    daphne_server.connections = {daphne_protocol: {}}  # as Server.run() and connect do
    daphne_server.create_application(daphne_protocol, {"type": "websocket"})
    await asyncio.sleep(0)  # the application instance runs once
    before = fallbacks("prepared_frames", "not_daphne")
    assert fastsend.protocol_of(sends[0]) is daphne_protocol
    assert fallbacks("prepared_frames", "not_daphne") == before


def test_another_servers_send_is_a_counted_fallback_logged_once(fallbacks, caplog):
    async def send(message):
        pass

    before = fallbacks("prepared_frames", "not_daphne")
    with caplog.at_level(logging.WARNING, logger="realtime.metrics"):
        assert fastsend.protocol_of(send) is None
        assert fastsend.protocol_of(send) is None
    assert fallbacks("prepared_frames", "not_daphne") == before + 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "prepared_frames not taken (not_daphne)" in warnings[0]
    text = metrics.render()[0].decode()
    assert 'relay_fast_path_fallbacks_total{path="prepared_frames",reason="not_daphne"' in text


def test_a_renamed_daphne_send_is_a_counted_fallback(daphne_protocol, fallbacks, caplog):
    async def reply(protocol, message):
        pass

    before = fallbacks("prepared_frames", "daphne_send_changed")
    with caplog.at_level(logging.WARNING, logger="realtime.metrics"):
        assert fastsend.protocol_of(functools.partial(reply, daphne_protocol)) is None
    assert fallbacks("prepared_frames", "daphne_send_changed") == before + 1
    assert "no longer Server.handle_reply" in caplog.text


def test_a_protocol_without_autobahns_private_names_is_a_counted_fallback(
    daphne_server, fallbacks, caplog
):
    from daphne.ws_protocol import WebSocketFactory

    # Not connected yet: autobahn sets _perMessageCompress and send_queue on
    # connection, so this protocol lacks them as a changed autobahn would.
    protocol = WebSocketFactory(daphne_server).buildProtocol(None)
    send = functools.partial(daphne_server.handle_reply, protocol)
    before = fallbacks("prepared_frames", "autobahn_changed")
    with caplog.at_level(logging.WARNING, logger="realtime.metrics"):
        assert fastsend.protocol_of(send) is None
        assert fastsend.protocol_of(send) is None
    assert fallbacks("prepared_frames", "autobahn_changed") == before + 2
    assert caplog.text.count("no _perMessageCompress, send_queue") == 1


async def test_a_frame_for_a_closing_socket_is_dropped_not_raised(factory):
    from realtime.delivery import DirectDelivery

    transport = StringTransport()
    protocol = open_protocol(factory, transport)
    protocol.sendClose(code=1000)  # the server is closing it: CLOSING
    transport.clear()

    class Consumer:  # the ASGI way, as Channels' consumer sends
        async def send(self, *args):
            raise AssertionError("the ASGI way raises autobahn's Disconnected here")

    class ClosingSocket(DirectDelivery, Consumer):
        pass

    socket = ClosingSocket()
    socket.ws_protocol = protocol
    await socket.send(text_data="late")
    assert transport.value() == b""


async def test_a_run_of_events_is_written_at_once_up_to_one_that_must_wait(factory):
    from realtime.delivery import DirectDelivery

    transport = StringTransport()
    protocol = open_protocol(factory, transport)
    transport.clear()
    writes = []
    write = transport.write
    transport.write = lambda data: writes.append(data) or write(data)
    handled = []

    class Socket(DirectDelivery):
        event_forwarders = {"chat.message": "forward_message"}
        ready = True
        given: set[int] = set()

        def forward_message(self, event):
            if event["n"] in self.given:
                return None  # given already (by hello, say): not sent again
            self.given.add(event["n"])
            return event["text"]

        async def chat_other(self, event):
            handled.append(("other", transport.value()))

    socket = Socket()
    socket.ws_protocol = protocol
    socket.given = {2}
    message = [{"type": "chat.message", "n": n, "text": f"m{n}"} for n in range(6)]
    socket.deliver_many([message[1], message[2], message[3], {"type": "chat.other"}, message[4]])

    # The frames before the event with a handler of its own: one write, at once.
    assert writes == [b"\x81\x02m1\x81\x02m3"]
    # That event and the one after it wait their turn in the socket's own task.
    assert socket._drainer is not None
    await asyncio.wait_for(socket._drainer, 5)
    assert handled == [("other", b"\x81\x02m1\x81\x02m3")]
    assert transport.value() == b"\x81\x02m1\x81\x02m3\x81\x02m4"
    # Nothing waits now: the inbox is given back (most of a kilobyte a
    # socket), and the next run goes straight out again.
    assert socket._inbox is None
    socket.deliver_many([message[5], message[0]])
    assert writes[-1] == b"\x81\x02m5\x81\x02m0"
