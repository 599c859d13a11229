"""A socket's incoming bytes: a client's usual frames read here, the rest by autobahn.

Why. autobahn's Twisted protocol reads every frame through its general machinery:
a debug line built for every chunk of bytes (the method's qualified name, the peer
and the length, each styled with `click.style` when click is installed), a masker
object made for every frame (its NVX flavour through cffi), the frame's and the
message's callbacks one after the other, and a txaio future per message for
observers nobody registered. A client of ours sends small text frames: in a
`--gil` py-spy profile of both workers at 1,000 chat sends/s (SQLite), autobahn's
reading of them was 13.7% of the samples, 4.3% the maskers alone; the debug line
alone had been 2.1% at 200 sends/s.

What. Per connection, nothing patched: the consumer points its own connection's
`dataReceived` at a reader of its own (`read_frames`), only when the protocol's
class reads, frames and delivers messages with autobahn's own methods, with no
compression, no frame logging and no observers of messages. The reader takes each
whole frame at the front of a chunk that is the usual case: final, text, masked,
at most 64 KiB and within the protocol's limits, valid UTF-8, with the connection
open, nothing of an earlier chunk waiting, no message under way and no ping
waiting for its pong. It unmasks it, counts it in the protocol's traffic figures
and hands it to the protocol's `onMessage`, as autobahn would. The first frame that
is anything else (a ping, a close, a fragment, binary data, bytes still to come,
invalid text, too large), and everything after it, goes to autobahn's parser
(`_dataReceived`), in order: autobahn answers, refuses or fails the connection as
it always did. tests/realtime/test_incoming.py feeds the same bytes to both
readers and compares what comes out (so it fails if autobahn comes to read them
otherwise); tests/realtime/test_canaries.py fails if a name the reader reads is
gone.
"""

import types

from autobahn.twisted.websocket import WebSocketAdapterProtocol
from autobahn.websocket.protocol import WebSocketProtocol

_OPEN = WebSocketProtocol.STATE_OPEN
_FINAL_TEXT = 0x81  # FIN, no RSV bit, opcode 1: a whole text message
_MASKED = 0x80
_MASKED_LONGER = 0x80 | 126  # the length in the next two bytes

# autobahn's methods between a chunk read and onMessage: a class that overrides
# any of them reads its own way, and keeps autobahn's reading.
_AUTOBAHN_OWN = {
    name: getattr(owner, name)
    for owner, names in (
        (
            WebSocketProtocol,
            (
                "consumeData",
                "processData",
                "onFrameBegin",
                "onFrameData",
                "onFrameEnd",
                "onMessageBegin",
                "onMessageFrameBegin",
                "onMessageFrameData",
                "onMessageFrameEnd",
                "onMessageFrame",
                "onMessageEnd",
            ),
        ),
        (
            WebSocketAdapterProtocol,
            (
                "dataReceived",
                "_onMessageBegin",
                "_onMessageFrameBegin",
                "_onMessageFrameData",
                "_onMessageFrameEnd",
                "_onMessageFrame",
                "_onMessageEnd",
                "_onMessage",
            ),
        ),
    )
    for name in names
}


def read_frames(protocol) -> bool:
    """Make `protocol` read a client's usual frames itself (see the module);
    return whether it does. When it can't, it still skips autobahn's debug
    line if it can (`read_without_debug_line`)."""
    cls = type(protocol)
    if (
        any(getattr(cls, name, None) is not method for name, method in _AUTOBAHN_OWN.items())
        or protocol._perMessageCompress is not None
        or protocol.logOctets
        or protocol.logFrames
        or protocol.trackedTimings
        or protocol._listeners
        or not protocol.utf8validateIncoming
        or not protocol.applyMask
        or not protocol.requireMaskedClientFrames
    ):
        read_without_debug_line(protocol)
        return False
    protocol.dataReceived = types.MethodType(_received, protocol)
    return True


def read_without_debug_line(protocol) -> bool:
    """Make `protocol` hand what it receives straight to autobahn's parser,
    without the debug line; return whether it could."""
    if type(protocol).dataReceived is not WebSocketAdapterProtocol.dataReceived:
        return False
    protocol.dataReceived = protocol._dataReceived
    return True


def _received(protocol, data: bytes) -> None:
    """`dataReceived` of a protocol that `read_frames` set up."""
    at = 0
    end = len(data)
    while (
        end - at >= 6  # the shortest masked frame
        and data[at] == _FINAL_TEXT
        and data[at + 1] >= _MASKED
        and protocol.state == _OPEN
        and not protocol.data
        and protocol.current_frame is None
        and not protocol.inside_message
        and protocol.autoPingTimeoutCall is None
    ):
        length = data[at + 1] & 0x7F
        start = at + 6
        if data[at + 1] == _MASKED_LONGER:
            length = (data[at + 2] << 8) | data[at + 3]
            start = at + 8
            if length < 126:  # not the shortest encoding: autobahn refuses it
                break
        elif length > 125:  # a 64-bit length: autobahn's
            break
        stop = start + length
        if (
            stop > end
            or 0 < protocol.maxFramePayloadSize < length
            or 0 < protocol.maxMessagePayloadSize < length
        ):
            break
        payload = _unmasked(data[start - 4 : start], data[start:stop])
        try:
            payload.decode()
        except UnicodeDecodeError:
            break
        stats = protocol.trafficStats
        stats.incomingOctetsWireLevel += stop - at
        stats.incomingOctetsWebSocketLevel += length
        stats.incomingOctetsAppLevel += length
        stats.incomingWebSocketFrames += 1
        stats.incomingWebSocketMessages += 1
        at = stop
        protocol.onMessage(payload, False)
    if at < end:
        protocol._dataReceived(data[at:] if at else data)


def _unmasked(mask: bytes, payload: bytes) -> bytes:
    """`payload` XORed with `mask` repeated (RFC 6455 5.3), as one big-integer
    XOR: a few hundred nanoseconds for a chat message."""
    size = len(payload)
    key = mask * (size // 4 + 1)
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        len(key), "little"
    )[:size]
