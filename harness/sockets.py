"""Helpers for the socket tests, which talk to the app in this process through
Channels' `WebsocketCommunicator` (the `connect_ws` fixture of tests/conftest.py)."""

import asyncio

from channels.db import database_sync_to_async

# The ORM from an async test, as the consumers reach it.
db = database_sync_to_async


async def receive(communicator, frame_type: str | None = None, timeout: float = 5) -> dict:
    """Return the next frame, asserting its type when given; presence frames are
    skipped while another type is awaited (they come whenever someone joins or leaves)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame_type is not None and frame["type"] != frame_type and frame["type"] == "presence":
            continue
        if frame_type is not None:
            assert frame["type"] == frame_type, frame
        return frame


async def open_room(connect_ws, room, user, query: str = ""):
    """Open `/ws/chat/<slug>/` as `user`; return (communicator, hello)."""
    communicator, connected, _ = await connect_ws(f"/ws/chat/{room.slug}/{query}", user)
    assert connected
    hello = await receive(communicator, "hello")
    return communicator, hello


async def expect_close(communicator, code: int) -> None:
    """Skip what the socket still sends until it closes; assert the close code."""
    output = await communicator.receive_output(timeout=5)
    while output["type"] != "websocket.close":
        output = await communicator.receive_output(timeout=5)
    assert output["code"] == code


async def assert_silent(communicator, timeout: float = 0.3) -> None:
    """Assert nothing more reaches this socket (a ping round trip flushes what is
    queued), presence frames aside: they come on their own schedule whenever
    someone joins or leaves (spaced out in a crowd), whatever the test did."""
    await communicator.send_json_to({"type": "ping"})
    while (frame := await communicator.receive_json_from(timeout=5))["type"] != "pong":
        assert frame["type"] == "presence", frame
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        if await communicator.receive_nothing(timeout=left):
            return
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["type"] == "presence", frame
