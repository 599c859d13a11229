"""realtime.db.in_database_thread: a sync function called from a socket's task
runs in a database thread in a copy of the task's context (its language
too), async_to_sync inside it runs on the calling loop, and what the call sets
in its context stays out of the task's."""

import asyncio
import contextvars
import threading

import pytest
from asgiref.sync import async_to_sync
from django.utils import translation

from realtime.db import DatabaseThreads, in_database_thread

pytestmark = pytest.mark.asyncio


@pytest.fixture
def executor():
    threads = DatabaseThreads(1, name="test-calls")
    yield threads
    threads.shutdown()


async def test_a_call_runs_in_a_database_thread_in_the_language_of_its_task(executor):
    def where() -> tuple[str, str]:
        return threading.current_thread().name, translation.get_language()

    call = in_database_thread(where, executor)
    translation.activate("ru")
    try:
        assert await call() == ("test-calls_0", "ru")
        translation.activate("en")
        assert await call() == ("test-calls_0", "en")
    finally:
        translation.deactivate()


async def test_async_code_called_from_the_thread_runs_on_the_calling_loop(executor):
    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    call = in_database_thread(async_to_sync(running_loop), executor)
    assert await call() is asyncio.get_running_loop()


async def test_what_a_call_sets_in_its_context_stays_out_of_the_task(executor):
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")

    def set_things() -> None:
        translation.activate("ru")
        marker.set("set in the thread")

    translation.activate("en")
    try:
        before = dict(contextvars.copy_context())
        await in_database_thread(set_things, executor)()
        assert translation.get_language() == "en"
        assert marker.get("unset") == "unset"
        # Not even new copies of the same values: the task keeps its own objects.
        after = dict(contextvars.copy_context())
        assert after.keys() == before.keys()
        assert all(after[var] is before[var] for var in before)
    finally:
        translation.deactivate()


async def test_an_exception_reaches_the_caller(executor):
    def fail() -> None:
        raise LookupError("from the thread")

    with pytest.raises(LookupError, match="from the thread"):
        await in_database_thread(fail, executor)()


async def test_a_cancelled_caller_leaves_the_running_call_to_finish(executor):
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(5)
        finished.set()

    task = asyncio.create_task(in_database_thread(slow, executor)())
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not finished.is_set()
    release.set()
    assert await asyncio.to_thread(finished.wait, 5)
    # The thread is free for the next call.
    assert await in_database_thread(lambda: 42, executor)() == 42


async def test_a_call_cancelled_before_it_started_does_not_run(executor):
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(5)

    busy = asyncio.create_task(in_database_thread(slow, executor)())
    await asyncio.to_thread(started.wait, 5)
    queued = asyncio.create_task(in_database_thread(lambda: ran.append("queued"), executor)())
    await asyncio.sleep(0)  # the call is queued behind the busy thread
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()
    await busy
    # The thread went past the cancelled call to this one.
    assert await in_database_thread(lambda: 42, executor)() == 42
    assert ran == []
