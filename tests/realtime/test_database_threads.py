"""realtime.db's database threads on PostgreSQL's pool: a thread keeps its
pooled connection from one call to the next, gives it back once idle or as
soon as the pool has none left for others, and replaces a broken one."""

import asyncio
import contextlib
import time

import pytest
from django.db import OperationalError, connection

from realtime.db import _POOLED, DatabaseThreads, in_database_thread, stop_database_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not _POOLED, reason="a pool of PostgreSQL connections"),
    pytest.mark.usefixtures("only_these_threads"),
]


@pytest.fixture
def only_these_threads():
    """No other database thread of the process (the sockets', a writer's)
    holds a pooled connection while a test counts them."""
    stop_database_threads()


def backend_pid() -> int:
    """The server process of this thread's connection (a query: it borrows one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def pool():
    """The process's pool (opened by the calls before)."""
    return connection.pool


async def until(condition, *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def threads(**options):
    executor = DatabaseThreads(1, name="test-db", **options)
    try:
        yield executor
    finally:
        executor.shutdown()


async def test_a_busy_thread_keeps_its_connection_between_calls():
    with threads(idle=60) as executor:
        call = in_database_thread(backend_pid, executor)
        first = await call()
        borrowed = pool().get_stats().get("requests_num", 0)
        assert [await call() for _ in range(20)] == [first] * 20
        assert pool().get_stats().get("requests_num", 0) == borrowed  # not borrowed again


async def test_an_idle_thread_gives_its_connection_back():
    with threads(idle=0.2) as executor:
        call = in_database_thread(backend_pid, executor)
        await call()
        the_pool = pool()
        held = _out(the_pool)  # the thread's, and any the test's own thread has
        # Once idle, back in the pool.
        await until(lambda: _out(the_pool) == held - 1)


async def test_a_thread_gives_its_connection_back_when_the_pool_has_none_left():
    with threads(idle=60) as executor:
        call = in_database_thread(backend_pid, executor)
        await call()  # the thread holds one
        the_pool = pool()
        taken = []
        try:
            # Everything else the pool may hold is taken here.
            while _out(the_pool) < the_pool.max_size:
                taken.append(the_pool.getconn(timeout=5))
            await call()  # afterwards the pool is short: its connection goes back
            taken.append(the_pool.getconn(timeout=1))
        finally:
            for held in taken:
                the_pool.putconn(held)


async def test_a_connection_broken_while_kept_is_replaced():
    with threads(idle=60) as executor:
        call = in_database_thread(backend_pid, executor)
        kept = await call()
        with pool().connection(timeout=5) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [kept])
        # The call that meets the broken connection fails, as any query would;
        # the next one gets another connection.
        with pytest.raises(OperationalError):
            await call()
        assert await call() != kept


def _out(the_pool) -> int:
    """The pool's connections lent out now."""
    stats = the_pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]
