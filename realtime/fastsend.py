"""The socket's own fast send path: frames built here, framed once per worker for
a shared message, and written straight to the connection's socket when nothing
is queued on it.

Why. Under Daphne a frame sent the ASGI way goes through Server.handle_reply,
autobahn's framing (with its debug-log arguments formatted on every call) and
Twisted's buffered write, which queues every write for the next reactor turn:
register the socket for writability, wake up, send, unregister, i.e. three
system calls and a loop iteration per frame, the largest cost of a delivery in
profiles. A room message goes out as the same text to every local socket, so it
is framed once and every socket writes the same bytes; a socket with nothing
pending takes them at once, and only what the kernel does not take is queued,
in order, on the connection's own Twisted buffer.

Per connection, nothing patched: the consumer finds its own connection from the
ASGI `send` Daphne gave it (`partial(Server.handle_reply, protocol)`, the same
under `daphne config.asgi:application`, `manage.py runserver` and `manage.py
serve`). Anywhere else (tests' WebsocketCommunicator, other servers)
`protocol_of` returns None and the consumer sends the ASGI way; a connection
whose transport is not a plain Twisted TCP one writes through the transport's
own `write`. Each such socket is counted in relay_fast_path_fallbacks_total and
the reason logged once per process.

Daphne, autobahn and Twisted are pinned (requirements.txt) for the private names
used here; tests/realtime/test_canaries.py fails when one changes.
"""

import functools
import struct

from autobahn.websocket.protocol import WebSocketProtocol

from . import metrics

PATH = "prepared_frames"
EAGER_PATH = "eager_write"
# What send_text uses of an autobahn protocol (underscored: private). Checked
# on each socket's protocol, so a changed autobahn means a counted fallback,
# never an AttributeError in the middle of a delivery.
PROTOCOL_NAMES = (
    "_perMessageCompress",
    "send_queue",
    "sendMessage",
    "transport",
)
# What the eager write reads of a Twisted TCP connection (underscored: private).
CONNECTION_NAMES = (
    "socket",
    "connected",
    "disconnecting",
    "_writeDisconnected",
    "_tempDataLen",
    "dataBuffer",
    "offset",
)
# Transport class -> whether it has every name the eager write reads. Twisted
# sets them in the connection's __init__, so one look per class answers for
# every connection of it.
_eager_transports: dict[type, bool] = {}


def protocol_of(send):
    """Return Daphne's WebSocket protocol behind an ASGI send callable, or None
    (counted in /metrics and logged once per process with the reason)."""
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    if not isinstance(protocol, WebSocketProtocol):
        metrics.fast_path_fallback(
            PATH,
            "not_daphne",
            "the socket is not served by Daphne, so each frame goes the ASGI way and "
            "waits for the next reactor turn",
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
    if missing:
        metrics.fast_path_fallback(
            PATH,
            "autobahn_changed",
            f"autobahn's WebSocketProtocol has no {', '.join(missing)}",
        )
        return None
    return protocol


def frame_text(payload: bytes) -> bytes:
    """One unfragmented, unmasked, uncompressed text frame (RFC 6455 5.2), as a
    server sends it."""
    size = len(payload)
    if size < 126:
        return b"\x81" + bytes((size,)) + payload
    if size < 65536:
        return b"\x81\x7e" + struct.pack("!H", size) + payload
    return b"\x81\x7f" + struct.pack("!Q", size) + payload


def can_write_eagerly(transport) -> bool:
    """Return whether `transport` is a Twisted TCP connection the eager write
    knows (if not, the fallback is counted and logged once per process)."""
    kind = type(transport)
    known = _eager_transports.get(kind)
    if known is None:
        missing = [name for name in CONNECTION_NAMES if not hasattr(transport, name)]
        known = _eager_transports[kind] = not missing
        if missing:
            # Counted once per transport class, logged once per process.
            metrics.fast_path_fallback(
                EAGER_PATH,
                "twisted_changed",
                f"{kind.__qualname__} has no {', '.join(missing)}; every frame waits for "
                "the next reactor turn",
            )
    return known


def write_eagerly(transport, data: bytes) -> None:
    """Write `data` to the socket now if nothing is queued before it; queue
    what the kernel does not take (or everything, if something is queued) on
    the transport's own buffer, behind what is there. Only for a transport
    `can_write_eagerly` accepts."""
    if (
        transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport._tempDataLen
        and transport.offset == len(transport.dataBuffer)
    ):
        try:
            sent = transport.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # the queued write meets the error and closes the connection
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


def write_frame(protocol, frame: bytes) -> None:
    """Write a framed message to an open protocol's connection."""
    transport = protocol.transport
    if can_write_eagerly(transport):
        write_eagerly(transport, frame)
    else:
        transport.write(frame)


def send_text(protocol, text: str, shared: dict | None = None) -> None:
    """Send `text` as one frame on `protocol`'s connection. With `shared` (the
    event every local socket receives), the frame is built by the first socket
    and reused by the others."""
    if protocol.state != protocol.STATE_OPEN:
        return
    if protocol._perMessageCompress is not None or protocol.send_queue:
        # Compression negotiated, or autobahn has its own queue: its way.
        protocol.sendMessage(text.encode(), False)
        return
    frame = _framed(text, shared)
    # write_frame, inlined: this runs once per socket of a room for each message.
    transport = protocol.transport
    if _eager_transports.get(type(transport)) or can_write_eagerly(transport):
        write_eagerly(transport, frame)
    else:
        transport.write(frame)


def send_texts(protocol, texts: list[tuple[str, dict | None]]) -> None:
    """send_text for several (text, shared) in order, their frames written
    together: one send() for a burst of a room's messages instead of one each
    (the system call is most of a delivery's CPU)."""
    if len(texts) == 1:
        send_text(protocol, *texts[0])
        return
    if not texts or protocol.state != protocol.STATE_OPEN:
        return
    if protocol._perMessageCompress is not None or protocol.send_queue:
        for text, _ in texts:
            protocol.sendMessage(text.encode(), False)
        return
    write_frame(protocol, b"".join(_framed(text, shared) for text, shared in texts))


def _framed(text: str, shared: dict | None) -> bytes:
    """`text` as a frame; with `shared`, framed once for every socket that sends it."""
    if shared is None:
        return frame_text(text.encode())
    if (cached := shared.get("_frame")) is not None:
        return cached
    frame = shared["_frame"] = frame_text(text.encode())
    return frame
