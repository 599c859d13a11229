"""The WebSocket inbox `serve` gives an application instead of Daphne's
asyncio.Queue: the same order, nothing lost to a cancelled reader."""

import asyncio

import pytest

from realtime.inbox import SocketInbox


async def test_messages_come_out_in_the_order_they_went_in():
    inbox = SocketInbox()
    for n in range(3):
        inbox.put_nowait({"n": n})
    assert [await inbox.get() for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_a_waiting_reader_gets_the_next_message_and_then_the_rest():
    inbox = SocketInbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("first")
    inbox.put_nowait("second")  # before the reader has run again
    assert await reader == "first"
    assert await inbox.get() == "second"


async def test_a_reader_cancelled_after_the_wake_up_leaves_the_message():
    inbox = SocketInbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("kept")
    reader.cancel()  # woken, but cancelled before it took the message
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert await asyncio.wait_for(inbox.get(), 1) == "kept"


async def test_a_second_reader_at_once_is_refused():
    inbox = SocketInbox()
    first = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await inbox.get()
    inbox.put_nowait("for the first")
    assert await first == "for the first"


async def test_nothing_is_held_while_no_message_waits():
    inbox = SocketInbox()
    inbox.put_nowait("x")
    await inbox.get()
    assert inbox._items is None and inbox._waiter is None
