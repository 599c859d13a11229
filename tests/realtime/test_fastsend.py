"""realtime.fastsend on real Daphne and autobahn objects: the frame is built once
for every socket, Daphne's send is recognised, and when it is not, the fallback
is counted and logged once."""

import asyncio
import functools
import logging

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.testing import StringTransport

from realtime import fastsend, metrics

HANDSHAKE = (
    b"GET /ws/chat/general/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def open_protocol(factory) -> tuple[WebSocketServerProtocol, StringTransport]:
    """An autobahn server protocol after a real opening handshake."""
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(HANDSHAKE)
    assert protocol.state == protocol.STATE_OPEN, transport.value()
    transport.clear()
    return protocol, transport


def test_a_shared_message_is_framed_once_and_written_to_every_socket():
    factory = WebSocketServerFactory("ws://127.0.0.1")
    factory.protocol = WebSocketServerProtocol
    factory.setProtocolOptions(openHandshakeTimeout=0, autoPingInterval=0)
    sockets = [open_protocol(factory) for _ in range(3)]
    shared = {"type": "chat.message"}
    for protocol, _ in sockets:
        fastsend.send_prepared(protocol, "hello", shared)
    frame = shared["_frame"]
    for protocol, transport in sockets:
        assert transport.value() == b"\x81\x05hello"  # FIN + text, 5 bytes, unmasked
        fastsend.send_prepared(protocol, "hello", shared)
    assert shared["_frame"] is frame


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
