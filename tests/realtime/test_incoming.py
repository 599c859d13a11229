"""realtime.incoming on Daphne's real protocols: an upgraded connection's frames
reach the application without autobahn building a debug line for each chunk, and
its usual frames read by the reader of its own exactly as autobahn reads them."""

import asyncio
import struct

import pytest

from harness import in_memory
from harness.waiting import wait_for
from realtime import incoming


async def test_frames_reach_the_app_without_a_debug_line_built_per_chunk(
    open_websocket, monkeypatch
):
    built = []

    def counting_hltype(thing):
        built.append(thing)
        return "<name>"

    monkeypatch.setattr("autobahn.twisted.websocket.hltype", counting_hltype)
    socket = await open_websocket()
    socket.protocol.dataReceived(text("before"))
    await wait_for(lambda: [m["text"] for m in socket.received] == ["before"], "before")
    assert built  # autobahn's own method builds the line's arguments

    assert incoming.read_without_debug_line(socket.protocol)
    built.clear()
    # Twisted's connection calls its protocol's dataReceived with what it reads.
    socket.protocol.dataReceived(text("after"))
    await wait_for(lambda: [m["text"] for m in socket.received][-1:] == ["after"], "after")
    assert built == []


def test_a_protocol_that_reads_its_own_way_is_left_alone(daphne_protocol):
    class OwnReading(type(daphne_protocol)):
        def dataReceived(self, data):
            self._dataReceived(data)

    daphne_protocol.__class__ = OwnReading
    assert not incoming.read_without_debug_line(daphne_protocol)
    assert "dataReceived" not in vars(daphne_protocol)


# --- the reader of a client's usual frames (read_frames) ----------------------


frame = in_memory.client_frame


def text(value: str, **options) -> bytes:
    return frame(value.encode(), **options)


async def read_both(open_websocket, chunks: list[bytes], **options) -> tuple[dict, dict]:
    """The same chunks read by autobahn's parser and by `read_frames`."""
    outcomes = []
    for ours in (False, True):
        socket = await open_websocket(**options)
        if ours:
            assert incoming.read_frames(socket.protocol)
        else:
            assert incoming.read_without_debug_line(socket.protocol)
        for chunk in chunks:
            socket.protocol.dataReceived(chunk)
        for _ in range(3):  # the app takes what its inbox holds
            await asyncio.sleep(0)
        outcomes.append(socket.outcome())
    return outcomes[0], outcomes[1]


def splits(stream: bytes) -> list[list[bytes]]:
    """`stream` whole, then cut in two at every position, then byte by byte."""
    return (
        [[stream]]
        + [[stream[:at], stream[at:]] for at in range(1, len(stream))]
        + [[stream[at : at + 1] for at in range(len(stream))]]
    )


STREAMS = {
    "one message": text('{"type": "send", "body": "hello"}'),
    "three in a row": text("one") + text("two") + text("three"),
    "empty": text("") + text("after"),
    # Cut after its first byte, the rest reads as a frame of its own (0x81, 0x81
    # and so on): only autobahn's buffer says it is not one.
    "a header cut short": text("a", mask=b"\x81\xc1\x00\x00") + text("b"),
    # Payloads that hold a whole frame: cut before it, the rest is the
    # payload's, not a frame, while autobahn is inside the frame.
    "a ping that holds a frame": frame(b"zz" + text("@"), opcode=9, mask=bytes(4)) + text("b"),
    "binary data that holds a frame": (
        frame(b"zz" + text("@"), opcode=2, mask=bytes(4)) + text("b")
    ),
    "not ASCII": text("привет, мир 👋"),
    "16-bit length": text("x" * 200) + text("y" * 126) + text("z" * 125),
    "ping between": text("a") + frame(b"are you there", opcode=9) + text("b"),
    "pong between": text("a") + frame(b"", opcode=10) + text("b"),
    "binary between": text("a") + frame(b"\x00\x01\xff", opcode=2) + text("b"),
    "fragmented": text("a") + text("hel", fin=False) + frame(b"lo", opcode=0) + text("b"),
    "fragment with a ping inside": (
        text("hel", fin=False) + frame(b"", opcode=9) + frame(b"lo", opcode=0) + text("b")
    ),
    "text inside a fragmented message": text("hel", fin=False) + text("x") + text("b"),
    "invalid UTF-8": text("a") + frame(b"\xff\xfe") + text("b"),
    "UTF-8 cut short": text("a") + frame("é".encode()[:1]) + text("b"),
    "unmasked": text("a") + text("b", mask=None) + text("c"),
    "length not the shortest": text("a") + text("b", long16=True) + text("c"),
    "reserved bit": text("a") + text("b", rsv=4) + text("c"),
    "reserved opcode": text("a") + frame(b"?", opcode=3) + text("c"),
    "continuation alone": text("a") + frame(b"?", opcode=0) + text("c"),
    "close, then more": text("a") + frame(struct.pack("!H", 1000), opcode=8) + text("late"),
}


@pytest.mark.parametrize("name", STREAMS)
async def test_the_reader_does_what_autobahn_does(name, open_websocket):
    for chunks in splits(STREAMS[name]):
        autobahn, ours = await read_both(open_websocket, chunks)
        assert ours == autobahn, (name, chunks)


async def test_a_64_bit_length_and_the_limits_go_to_autobahn(open_websocket):
    # A zero mask: read as a 7-bit length, its header and payload would unmask to
    # valid text (zero bytes and x's), so only the length's check sends it on.
    big = text("x" * 70_000, mask=bytes(4))
    for chunks in ([big], [big[:30_000], big[30_000:]]):
        autobahn, ours = await read_both(open_websocket, chunks)
        assert ours == autobahn and len(ours["received"]) == 1
    for options in ({"maxMessagePayloadSize": 100}, {"maxFramePayloadSize": 100}):
        autobahn, ours = await read_both(
            open_websocket, [text("a" * 100) + text("b" * 101)], **options
        )
        assert ours == autobahn
        assert [m["text"] for m in ours["received"]] == ["a" * 100] and ours["failed"]


async def test_frames_while_a_ping_waits_go_to_autobahn(open_websocket):
    """A data frame ends autobahn's wait for a pong (autoPingRestartOnAnyTraffic):
    the reader leaves such frames to autobahn."""

    class Call:
        cancelled = False

        def cancel(self):
            self.cancelled = True

    socket = await open_websocket()
    assert incoming.read_frames(socket.protocol)
    socket.protocol.autoPingTimeoutCall = call = Call()
    socket.protocol.dataReceived(text("a") + text("b"))
    await asyncio.sleep(0)
    assert call.cancelled and socket.protocol.autoPingTimeoutCall is None
    assert [m["text"] for m in socket.received] == ["a", "b"]


async def test_the_names_set_at_the_handshake_are_still_there(open_websocket):
    """What the reader reads of an open protocol that autobahn sets only once the
    handshake is done (the canaries look at a protocol before it)."""
    socket = await open_websocket()
    for name in ("current_frame", "inside_message"):
        assert hasattr(socket.protocol, name), f"autobahn's protocol has no {name} now"


@pytest.mark.parametrize(
    "override", ["onMessageFrame", "onMessageEnd", "_onMessage", "processData", "onFrameEnd"]
)
async def test_a_protocol_that_reads_frames_its_own_way_keeps_autobahn(override, open_websocket):
    socket = await open_websocket()
    protocol = socket.protocol
    daphne_class = type(protocol)

    def own(self, *args):  # the same work, but not autobahn's own method
        return getattr(daphne_class, override)(self, *args)

    protocol.__class__ = type("OwnFrames", (daphne_class,), {override: own})
    assert not incoming.read_frames(protocol)
    assert protocol.dataReceived == protocol._dataReceived  # still without the debug line


async def test_observers_of_messages_keep_autobahn(open_websocket):
    socket = await open_websocket()
    heard = []
    socket.protocol.on("message", lambda payload, is_binary: heard.append(payload))
    assert not incoming.read_frames(socket.protocol)
    socket.protocol.dataReceived(text("a"))
    assert heard == [b"a"]


def test_unmasking():
    mask = b"\x01\x02\x03\x04"
    for size in (0, 1, 3, 4, 5, 125, 126, 1000):
        payload = bytes(range(256)) * 4
        payload = payload[:size]
        expected = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        assert incoming._unmasked(mask, payload) == expected
        assert incoming._unmasked(mask, expected) == payload
