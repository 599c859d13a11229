"""Database calls from socket consumers."""

from channels.db import database_sync_to_async


def db_call(func):
    """Run `func` with the ORM from async code, in the thread pool.

    Channels' default runs every database call of a process in one shared
    thread, so a burst of handshakes waits in line on the database's round
    trips. Here calls run side by side, each thread borrowing a pooled
    connection (and closing stale ones, as database_sync_to_async does). A
    consumer still makes one call at a time: it handles its frames in order.
    """
    return database_sync_to_async(func, thread_sensitive=False)
