"""Frame a shared WebSocket message once per worker instead of once per socket.

A room message goes out as the same text to every local socket; autobahn (under
Daphne) would encode and frame it again for each one. When the socket's ASGI
`send` is Daphne's own (`partial(Server.handle_reply, protocol)`), the consumer
can hand autobahn a PreparedMessage, framed once, instead. Anywhere else (tests'
WebsocketCommunicator, other servers) `protocol_of` returns None and consumers
send the ASGI way.
"""

import functools

from autobahn.websocket.protocol import WebSocketProtocol


def protocol_of(send):
    """Return Daphne's WebSocket protocol behind an ASGI send callable, or None."""
    if (
        isinstance(send, functools.partial)
        and getattr(send.func, "__name__", "") == "handle_reply"
        and send.args
        and isinstance(send.args[0], WebSocketProtocol)
    ):
        return send.args[0]
    return None


def send_prepared(protocol, text: str, shared: dict) -> None:
    """Send `text` framed once: `shared` (the event all local sockets receive)
    carries the frame from the first socket to the others."""
    if protocol.state != protocol.STATE_OPEN:
        return
    prepared = shared.get("_frame")
    if prepared is None:
        prepared = shared["_frame"] = protocol.factory.prepareMessage(text.encode())
    if protocol._perMessageCompress is None and not protocol.send_queue:
        # What sendPreparedMessage does here, without the debug-log arguments
        # it formats on every call: the framed bytes to the transport.
        protocol.transport.write(prepared.payloadHybi)
    else:
        protocol.sendPreparedMessage(prepared)
