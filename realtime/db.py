"""Database calls from socket consumers."""

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

# Connections of a pool (PostgreSQL) go back to it after each call: an idle
# thread holds none. Others (SQLite) stay open in their thread for the
# database's CONN_MAX_AGE: opening one per call cost more than the query.
_POOLED = bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool"))

# One pool of threads for the process, whatever event loop calls.
_executor = ThreadPoolExecutor(
    max_workers=max(settings.DATABASE_THREADS, 1), thread_name_prefix="db"
)


P = ParamSpec("P")
R = TypeVar("R")


def db_call(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run `func` with the ORM from async code, in the database threads.

    Channels' default runs every database call of a process in one shared
    thread, so a burst of handshakes waits in line on the database's round
    trips. Here calls run side by side (and close stale connections, as
    database_sync_to_async does). A consumer still makes one call at a time: it
    handles its frames in order.
    """

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            if _POOLED:
                # Back to the psycopg pool at once: an idle thread holds none.
                connection.close()

    return database_sync_to_async(run, thread_sensitive=False, executor=_executor)
