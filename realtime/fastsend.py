"""Frame a shared WebSocket message once per worker instead of once per socket.

A room message goes out as the same text to every local socket; autobahn (under
Daphne) would encode and frame it again for each one. When the socket's ASGI
`send` is Daphne's own (`partial(Server.handle_reply, protocol)`), the consumer
can hand autobahn a PreparedMessage, framed once, instead. Anywhere else (tests'
WebsocketCommunicator, other servers) `protocol_of` returns None and consumers
send the ASGI way; each such socket is counted in relay_fast_path_fallbacks_total
and the reason logged once per process.

Daphne, autobahn and Twisted are pinned (requirements.txt) for the private names
used here; tests/realtime/test_canaries.py fails when one changes.
"""

import functools

from autobahn.websocket.protocol import WebSocketProtocol

from . import metrics

PATH = "prepared_frames"
# What send_prepared uses of an autobahn protocol (underscored: private). Checked
# on each socket's protocol, so a changed autobahn means a counted fallback,
# never an AttributeError in the middle of a delivery.
PROTOCOL_NAMES = (
    "_perMessageCompress",
    "send_queue",
    "sendPreparedMessage",
    "factory",
    "transport",
)


def protocol_of(send):
    """Return Daphne's WebSocket protocol behind an ASGI send callable, or None
    (counted in /metrics and logged once per process with the reason)."""
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    if not isinstance(protocol, WebSocketProtocol):
        metrics.fast_path_fallback(
            PATH,
            "not_daphne",
            "the socket is not served by Daphne, so each socket frames its own copy of a "
            "shared message",
        )
        return None
    if getattr(send.func, "__name__", "") != "handle_reply":
        metrics.fast_path_fallback(
            PATH,
            "daphne_send_changed",
            f"Daphne's ASGI send is {send.func!r}, no longer Server.handle_reply",
        )
        return None
    missing = [name for name in PROTOCOL_NAMES if not hasattr(protocol, name)]
    # autobahn's class does not declare `factory`: Twisted sets it on the instance
    # (checked just above).
    if not missing and not hasattr(protocol.factory, "prepareMessage"):  # type: ignore[attr-defined]
        missing.append("factory.prepareMessage")
    if missing:
        metrics.fast_path_fallback(
            PATH,
            "autobahn_changed",
            f"autobahn's WebSocketProtocol has no {', '.join(missing)}",
        )
        return None
    return protocol


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
