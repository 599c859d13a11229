"""Database calls from socket consumers, and statements of fixed shape for
the hot paths (a handshake's reads, a batch of sends): the ORM builds and
compiles a query on every call, which there cost more than the query."""

import asyncio
import contextvars
import datetime
import functools
import json
import logging
import os
import queue
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, ParamSpec, TypeVar
from uuid import UUID

from asgiref.sync import SyncToAsync, _restore_context
from django.conf import settings
from django.db import close_old_connections, connection, connections, router, transaction
from django.db.models import Field, Model

# Connections of a pool (PostgreSQL) are kept by a database thread while calls
# keep coming, and go back to the pool once the thread has been idle for
# IDLE_RELEASE s, or at once when the pool has none left for others. Borrowing
# and returning one around every call cost about 60 us of a worker's CPU, as
# much as a handshake's query (290 us a call in all, measured in one
# process). Others (SQLite) stay open in their thread for the database's
# CONN_MAX_AGE: opening one per call cost more than the query.
_POOLED = bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool"))
IDLE_RELEASE = 0.25

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=Model)
T = TypeVar("T")


class DatabaseThreads(Executor):
    """A fixed number of threads that run database calls for async code.

    Each thread keeps its pooled connection from one call to the next and
    gives it back after `idle` s without a call, so a busy process borrows
    once, not per call, and an idle one holds none. Threads start with the
    first call, in the process that makes it (a forked worker starts its own).
    """

    def __init__(self, threads: int, *, name: str, idle: float = IDLE_RELEASE) -> None:
        self.size = max(threads, 1)
        self.name = name
        self.idle = idle
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._pid = 0
        self._lock = threading.Lock()
        _every_executor.add(self)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._start()
        self._queue.put((future, fn, args, kwargs))
        return future

    def run_for(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], /, *args: Any
    ) -> "asyncio.Future[T]":
        """`fn(*args)` in a thread, its outcome on a future of `loop`.

        As `submit` wrapped by `asyncio.wrap_future`, without the thread-safe
        future in between: the thread hands the outcome to the loop itself.
        That chain (a lock and a condition per call, callbacks both ways,
        the state copied across) cost 38-57 us of CPU per call with 50 calls
        at once, against 24-29 us (a call that does nothing, in one
        process). A future cancelled before its call starts skips it; a call
        under way finishes, and its outcome is dropped."""
        waiter: asyncio.Future[T] = loop.create_future()
        self._start()
        self._queue.put((waiter, fn, args, {}))
        return waiter

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads (each gives its connection back first); the next
        call starts them again."""
        with self._lock:
            threads, self._threads = self._threads, []
            for _ in threads:
                self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _start(self) -> None:
        if self._pid == os.getpid() and self._threads:
            return
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's threads are not here
                self._queue = queue.SimpleQueue()
                self._threads = []
                self._pid = os.getpid()
            while len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        work = self._queue
        while True:
            try:
                item = work.get(timeout=self.idle)
            except queue.Empty:
                _release_connections()  # idle: back to the pool
                item = work.get()
            if item is None:
                _release_connections()
                return
            future, fn, args, kwargs = item
            if isinstance(future, asyncio.Future):
                _run_for_loop(future, fn, args)
            elif future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as error:  # as ThreadPoolExecutor: the caller gets it
                    future.set_exception(error)
                else:
                    future.set_result(result)
            del item, future, fn, args, kwargs


def _run_for_loop(waiter: "asyncio.Future[Any]", fn: Callable[..., Any], args: tuple) -> None:
    """In a database thread: `fn(*args)` for `waiter`'s loop (`run_for`)."""
    if waiter.cancelled():  # read across threads: at worst the call runs for nothing
        return
    try:
        result = fn(*args)
    except BaseException as error:  # the caller gets it
        _settle_soon(waiter, _fail, error)
    else:
        _settle_soon(waiter, _succeed, result)


def _settle_soon(waiter: "asyncio.Future[Any]", settle: Callable, outcome: Any) -> None:
    loop = waiter.get_loop()
    if loop.is_closed():  # the caller's loop is gone: nobody waits
        return
    with suppress(RuntimeError):  # closed meanwhile
        loop.call_soon_threadsafe(settle, waiter, outcome)


def _succeed(waiter: "asyncio.Future[Any]", result: Any) -> None:
    if not waiter.done():  # cancelled while the call ran
        waiter.set_result(result)


def _fail(waiter: "asyncio.Future[Any]", error: BaseException) -> None:
    if not waiter.done():
        waiter.set_exception(error)


_every_executor: "weakref.WeakSet[DatabaseThreads]" = weakref.WeakSet()


def stop_database_threads() -> None:
    """Stop every DatabaseThreads of the process, their connections given
    back (before the test database is dropped)."""
    for executor in list(_every_executor):
        executor.shutdown()


def _release_connections() -> None:
    # A thread that raised here would be gone, and the calls queued for it
    # would wait for ever: what fails is logged, and the thread goes on.
    try:
        if _POOLED:
            connections.close_all()
        else:
            close_old_connections()
    except Exception:
        logger.exception("a database thread could not give its connection back")


def _check_connections(*, after: bool = False) -> None:
    """Before and after a call: as Django's close_old_connections, except
    that a sound pooled connection is kept (the pool's connections have no
    age: idle threads give theirs back), unless the pool has none left for
    others: then it goes back after the call."""
    if not _POOLED:
        close_old_connections()
        return
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        # Left in a transaction (as Django: closed), broken, or wanted elsewhere.
        if (
            conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]
            or (conn.errors_occurred and not conn.is_usable())
            or (after and _pool_short(conn))
        ):
            conn.close()
        else:
            conn.errors_occurred = False


def _pool_short(conn) -> bool:
    """Whether someone waits for a connection of `conn`'s pool, or will."""
    stats = conn.pool.get_stats()
    return bool(stats["requests_waiting"]) or (
        not stats["pool_available"] and stats["pool_size"] >= stats["pool_max"]
    )


# One set of threads for the sockets' database calls, whatever event loop calls.
_executor = DatabaseThreads(settings.DATABASE_THREADS, name="db")


def in_database_thread(
    func: Callable[P, R], executor: DatabaseThreads
) -> Callable[P, Awaitable[R]]:
    """`func` as a coroutine function run by `executor`'s threads (a
    DatabaseThreads), with their connections checked around each call.

    As asgiref's sync_to_async runs it, but for one thing: the call runs in a
    copy of the calling task's context (its Local data, such as the socket's
    language, visible there too), and what it sets in that copy stays there.
    sync_to_async copies every context variable back into the caller after
    each call, so a socket's task kept its own new copy of whatever its calls
    had touched (asgiref's Local storage, decimal's context), objects the
    collector walks on every full pass; and the copying was about a quarter
    of a call's CPU. No caller here reads back what a database call set.
    """

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await executor.run_for(loop, _run_for, loop, context, func, args, kwargs)

    return call


def _run_for(
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
    func: Callable[..., R],
    args: tuple,
    kwargs: dict,
) -> R:
    """In a database thread: `func` for `loop`'s task, in `context`."""
    # async_to_sync in here (a push: realtime.push) runs on the calling loop, as
    # under sync_to_async: asgiref reads that loop from this thread-local
    # (private: tests/realtime/test_canaries.py).
    local = SyncToAsync.threadlocal
    local.main_event_loop = loop
    local.main_event_loop_pid = os.getpid()
    return context.run(_checked, context, func, args, kwargs)


def _checked(context: contextvars.Context, func: Callable[..., R], args: tuple, kwargs: dict) -> R:
    # Local data is tagged with the thread that set it and hidden from others:
    # moved to this thread, as sync_to_async moves it (private, as above).
    _restore_context(context)
    _check_connections()
    try:
        return func(*args, **kwargs)
    finally:
        _check_connections(after=True)


def db_call(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run `func` with the ORM from async code, in the database threads.

    Channels' default runs every database call of a process in one shared
    thread, so a burst of handshakes waits in line on the database's round
    trips. Here calls run side by side (and close broken connections, as
    database_sync_to_async does). A consumer still makes one call at a time: it
    handles its frames in order.
    """
    return in_database_thread(func, _executor)


def quoted(model: type[Model], *names: str) -> list[str]:
    """`model`'s table, then the column of each named field, quoted: the names
    of a statement written by hand (its values go as parameters)."""
    quote = connection.ops.quote_name
    columns = (quote(_column_field(model, name).column) for name in names)
    return [quote(model._meta.db_table), *columns]


def _column_field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


def _converters(connection, model: type[Model], fields: list[Field]) -> list:
    """(position, column, functions) for each of `fields` the database's values
    need converting for, as the ORM converts them (SQLite's booleans and
    datetimes, time zones)."""
    table = model._meta.db_table
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((position, column, found))
    return converters


def _instance(connection, model: type[M], attnames: list[str], converters: list, row) -> M:
    values = list(row)
    for position, column, functions in converters:
        for convert in functions:
            values[position] = convert(values[position], column, connection)
    return model.from_db(connection.alias, attnames, values)


class Rows(Generic[M]):
    """One model's rows by fixed conditions, as model instances, the SQL
    written once: the ORM builds and compiles a query on every call, which on
    a handshake cost about ten times the query itself (SQLite, CPU per call:
    `Room.objects.get(slug=...)` about 540 us, this about 60 us).

    `where` pairs a field name with a comparison (`("slug", "=")`), ANDed;
    the fields `null` names must be NULL. `order_by` picks which row is first
    (field names, `-` for descending); `lock` locks it for the transaction,
    where the database locks rows. Parameters and every concrete field read
    are converted as the ORM would (SQLite's booleans and datetimes, time
    zones), so the instances are the same as `Model.objects.get`'s.
    """

    OPERATORS = frozenset({"=", "<", "<=", ">", ">="})

    def __init__(
        self,
        model: type[M],
        *where: tuple[str, str],
        null: tuple[str, ...] = (),
        order_by: tuple[str, ...] = (),
        lock: bool = False,
    ) -> None:
        if not where or any(operator not in self.OPERATORS for _, operator in where):
            raise ValueError(f"conditions must compare fields with {sorted(self.OPERATORS)}")
        self.model = model
        self.where = [(_column_field(model, name), operator) for name, operator in where]
        self.null = [_column_field(model, name) for name in null]
        self.order_by = [
            (_column_field(model, name.removeprefix("-")), name.startswith("-"))
            for name in order_by
        ]
        self.lock = lock
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self._prepared: dict[str, tuple[str, list]] = {}  # per database alias

    def _prepare(self, connection) -> tuple[str, list]:
        prepared = self._prepared.get(connection.alias)
        if prepared is None:
            quote = connection.ops.quote_name
            table = self.model._meta.db_table
            columns = ", ".join(quote(field.column) for field in self.fields)
            where = " AND ".join(
                [f"{quote(field.column)} {op} %s" for field, op in self.where]
                + [f"{quote(field.column)} IS NULL" for field in self.null]
            )
            sql = f"SELECT {columns} FROM {quote(table)} WHERE {where}"  # noqa: S608
            if self.order_by:
                sql += " ORDER BY " + ", ".join(
                    f"{quote(field.column)}{' DESC' if descending else ''}"
                    for field, descending in self.order_by
                )
            sql += " LIMIT 1"
            if self.lock and connection.features.has_select_for_update:
                sql += " FOR UPDATE"
            converters = _converters(connection, self.model, list(self.fields))
            prepared = self._prepared[connection.alias] = (sql, converters)
        return prepared

    def first(self, *values: Any) -> M | None:
        """Return the first row whose fields compare so with `values`, or None."""
        connection = connections[router.db_for_read(self.model)]
        sql, converters = self._prepare(connection)
        params = self._params(connection, values)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return _instance(connection, self.model, self.attnames, converters, row)

    def query(self, *values: Any) -> "Query[M | None]":
        """first's query on the default database, to run with others (run_together)."""
        sql, converters = self._prepare(connection)

        def read(rows: list[tuple]) -> M | None:
            if not rows:
                return None
            return _instance(connection, self.model, self.attnames, converters, rows[0])

        return Query(sql, self._params(connection, values), read)

    def _params(self, connection, values: tuple[Any, ...]) -> list[Any]:
        return [
            field.get_db_prep_value(value, connection)
            for (field, _), value in zip(self.where, values, strict=True)
        ]


@dataclass(frozen=True)
class Query(Generic[T]):
    """A statement of fixed shape, its parameters, and what its rows become:
    run alone (`run`) or with others in one round trip (`run_together`)."""

    sql: str
    params: list[Any]
    read: Callable[[list[tuple]], T]
    rows: bool = True  # the statement returns rows
    many: bool = False  # `params` is a list of parameter lists, one execution each


def run(query: Query[T]) -> T:
    """Run one query on the default database, in its current transaction."""
    with connection.cursor() as cursor:
        return _run_one(cursor, query)


def run_together(*queries: Query[Any]) -> list[Any]:
    """Run `queries` in order on the default database, in its current
    transaction; return what each one's rows become.

    On PostgreSQL they go as one query string in one round trip (Django's
    psycopg cursors bind parameters on the client, which takes several
    statements at once): a round trip cost about 80 us of a worker's CPU, more
    than most statements of a batch of sends. Elsewhere (and with the
    database's `server_side_binding` option, whose prepared statements hold
    one statement each) one by one. An error in any of them fails the lot, as
    in a transaction it would anyway.
    """
    if not _TOGETHER or len(queries) < 2:
        with connection.cursor() as cursor:
            return [_run_one(cursor, query) for query in queries]
    sql = "; ".join(query.sql for query in queries)
    params = [param for query in queries for param in query.params]
    results = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for position, query in enumerate(queries):
            if position:
                cursor.nextset()
            results.append(query.read(cursor.fetchall() if query.rows else []))
    return results


class Trips:
    """The statements of one transaction, sent in a few round trips
    (transaction_in_trips): each `run` is one run_together; the first carries
    the transaction's BEGIN and the one marked `last` its COMMIT, where the
    database takes several statements at once."""

    def __init__(self, *, carry: bool) -> None:
        self.carry = carry  # BEGIN and COMMIT go with the statements
        self.begun = False
        self.ended = False

    def run(self, *queries: Query[Any], last: bool = False) -> list[Any]:
        """run_together(*queries) in the transaction; `last`: nothing of it
        runs after these (its COMMIT goes with them)."""
        if self.ended:
            raise RuntimeError("the transaction's last statements have run")
        begin = [_BEGIN] if self.carry and not self.begun else []
        end = [_COMMIT] if self.carry and last else []
        results = run_together(*begin, *queries, *end)
        self.begun = True
        self.ended = last
        return results[len(begin) : len(results) - len(end)]


def _nothing(rows: list[tuple]) -> None:
    return None


_BEGIN: Query[None] = Query("BEGIN", [], _nothing, rows=False)
_COMMIT: Query[None] = Query("COMMIT", [], _nothing, rows=False)


@contextmanager
def transaction_in_trips() -> Iterator[Trips]:
    """transaction.atomic() for a write whose statements all go through the
    Trips it yields (its first statement and its last among them).

    psycopg sends a transaction's BEGIN and its COMMIT in round trips of their
    own; on PostgreSQL with client-side binding, outside any other atomic
    block, here they go with the first and the last statements instead: two
    round trips fewer (a round trip cost about 80 us of the writer's CPU; a
    batch of one send took five). Django's block still runs the on_commit
    callbacks after the commit, and rolls back what fails. Elsewhere it is
    transaction.atomic() itself."""
    if not _TOGETHER or connection.in_atomic_block or not connection.get_autocommit():
        with transaction.atomic():
            yield Trips(carry=False)
        return
    with transaction.atomic():
        # Back in autocommit (where Django keeps it between blocks) psycopg
        # sends no BEGIN of its own; the block's end leaves it there.
        connection.connection.autocommit = True
        trips = Trips(carry=True)
        yield trips
        if trips.begun and not trips.ended:  # ended before its last statements
            run(_COMMIT)


def _run_one(cursor, query: Query[T]) -> T:
    if query.many:
        cursor.executemany(query.sql, query.params)
    else:
        cursor.execute(query.sql, query.params)
    return query.read(cursor.fetchall() if query.rows else [])


def rows_in(
    model: type[M], fields: tuple[str, ...], *, lock: bool = False, **where: list[Any]
) -> list[M]:
    """Return the rows of `model` whose fields each have one of the values
    listed in `where`, as instances with `fields` loaded (the others
    deferred); `lock`: locked for the transaction, where the database locks
    rows, and returned in id order (every writer locks in the same order).
    Unlocked rows come in no promised order. On the default database, in its
    current transaction."""
    return run(select_in(model, fields, lock=lock, **where))


def select_in(
    model: type[M], fields: tuple[str, ...], *, lock: bool = False, **where: list[Any]
) -> Query[list[M]]:
    """rows_in's query, to run with others (run_together)."""
    counts = None if _ARRAYS else tuple(len(values) for values in where.values())
    sql, attnames, converters = _select_in(model, fields, tuple(where), lock, counts)

    def read(rows: list[tuple]) -> list[M]:
        return [_instance(connection, model, attnames, converters, row) for row in rows]

    return Query(sql, _in_params(where), read)


def _in_params(where: dict[str, list[Any]]) -> list[Any]:
    """The parameters of `_in_conditions`: a list per field, or each value."""
    if _ARRAYS:
        return [list(values) for values in where.values()]
    return [value for values in where.values() for value in values]


def rows_insert(
    model: type[Model],
    fields: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    *,
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """INSERT `rows` (values already in the database's form, in `fields`' order)
    in one statement on the default database; return the `returning` columns
    of each row (SQLite 3.35+ and PostgreSQL both have RETURNING), in no
    promised order. bulk_create compiles its statement field by field and row
    by row, which for a batch of sends cost more CPU than the database's work."""
    query = insert(model, fields, rows, returning=returning)
    return [] if query is None else run(query)


def insert(
    model: type[Model],
    fields: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    *,
    returning: tuple[str, ...] = (),
) -> Query[list[tuple[Any, ...]]] | None:
    """rows_insert's query, to run with others (run_together); None for no rows."""
    if not rows:
        return None
    sql = _insert(model, fields, returning, None if _ARRAYS else len(rows))
    if _ARRAYS:
        params: list[Any] = [_json_rows(rows)]
    else:
        params = [value for values in rows for value in values]
    return Query(sql, params, list, rows=bool(returning))


def new_ids(model: type[Model], count: int) -> Query[list[int]] | None:
    """`count` ids from the sequence of `model`'s id, for rows to be inserted
    with them (insert), to run with others (run_together): statements that
    refer to the rows can then go in the same round trip as their insert.
    None where the database has no sequence to take them from ahead (SQLite:
    the insert's RETURNING gives them). Ids taken and not used stay unused."""
    if not _SEQUENCES or count < 1:
        return None
    sql = "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"
    meta = model._meta
    params = [connection.ops.quote_name(meta.db_table), meta.pk.column, count]
    return Query(sql, params, _first_column)


def _first_column(rows: list[tuple]) -> list[Any]:
    return [row[0] for row in rows]


def rows_set(model: type[Model], name: str, values: list[tuple[Any, Any]]) -> None:
    """Set field `name` of many rows by id: `values` pairs an id with its row's
    new value (in the database's form), in one statement (bulk_update builds a
    CASE per row, which costs more to build than to run)."""
    query = set_values(model, name, values)
    if query is not None:
        run(query)


def set_values(model: type[Model], name: str, values: list[tuple[Any, Any]]) -> Query[None] | None:
    """rows_set's query, to run with others (run_together); None for no values."""
    if not values:
        return None
    sql = _set(model, name)
    if _ARRAYS:
        return Query(sql, [_json_rows(values)], _nothing, rows=False)
    return Query(sql, [(value, pk) for pk, value in values], _nothing, rows=False, many=True)


def rows_delete(model: type[Model], **where: list[Any]) -> None:
    """DELETE the rows of `model` whose fields each have one of the values
    listed in `where`, in one statement of fixed shape on the default
    database, in its current transaction. That statement alone: no signals,
    nothing else deleted (QuerySet.delete() first reads the rows for its
    collector, which also deletes what refers to them). For rows nothing
    refers to, or whose referrers the caller deletes first."""
    run(delete_in(model, **where))


def delete_in(model: type[Model], **where: list[Any]) -> Query[None]:
    """rows_delete's query, to run with others (run_together)."""
    counts = None if _ARRAYS else tuple(len(values) for values in where.values())
    return Query(_delete_in(model, tuple(where), counts), _in_params(where), _nothing, rows=False)


# The statements of rows_in, rows_insert, rows_set and rows_delete, written once per shape
# (and their converters found once): in a profile of batches of one send,
# writing them on every call cost as much as running them.


@functools.lru_cache(maxsize=256)
def _select_in(
    model: type[Model],
    fields: tuple[str, ...],
    names: tuple[str, ...],
    lock: bool,
    counts: tuple[int, ...] | None,
) -> tuple[str, list[str], list]:
    quote = connection.ops.quote_name
    meta = model._meta
    # In the model's order, as Model.from_db reads them.
    loaded = [field for field in meta.concrete_fields if field.name in fields]
    columns = ", ".join(quote(field.column) for field in loaded)
    conditions = _in_conditions(model, names, counts)
    # The names are the model's own, quoted; the values are parameters.
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {conditions}"  # noqa: S608
    if lock:
        sql += f" ORDER BY {quote(meta.pk.column)}"
        if connection.features.has_select_for_update:
            sql += " FOR UPDATE"
    # No ORDER BY otherwise: SQLite, which keeps no statistics unless asked,
    # satisfies "ORDER BY id" by walking a one-column index in id order. For a
    # batch's resend check (room, author and client_id, each IN a list) that
    # was the room's index: every message of the room read, 28 ms for a room of
    # 56,000, instead of a lookup of the unique key per send.
    converters = _converters(connection, model, loaded)
    return sql, [field.attname for field in loaded], converters


@functools.lru_cache(maxsize=64)
def _delete_in(model: type[Model], names: tuple[str, ...], counts: tuple[int, ...] | None) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    # The names are the model's own, quoted; the values are parameters.
    return f"DELETE FROM {table} WHERE {_in_conditions(model, names, counts)}"  # noqa: S608


def _in_conditions(
    model: type[Model], names: tuple[str, ...], counts: tuple[int, ...] | None
) -> str:
    """Each field `names` names among a list of values (`counts`: how many
    each; None: one array parameter each, on PostgreSQL), ANDed."""
    quote = connection.ops.quote_name
    matched = [_column_field(model, name) for name in names]
    if counts is None:
        # One array per field: the same statement for any number of values.
        return " AND ".join(f"{quote(f.column)} = ANY({_array(f)})" for f in matched)
    return " AND ".join(
        f"{quote(field.column)} IN ({', '.join(['%s'] * count)})"
        for field, count in zip(matched, counts, strict=True)
    )


@functools.lru_cache(maxsize=256)
def _insert(
    model: type[Model], fields: tuple[str, ...], returning: tuple[str, ...], rows: int | None
) -> str:
    quote = connection.ops.quote_name

    def columns(names: tuple[str, ...]) -> str:
        return ", ".join(quote(_column_field(model, name).column) for name in names)

    if rows is None:
        # The rows as one JSON parameter: one statement for any number of rows.
        values = _from_json_rows([_column_field(model, name) for name in fields])
    else:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        values = f"VALUES {', '.join([row] * rows)}"
    # The names are the model's own, quoted; the values are parameters.
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns(fields)}) {values}"
    if returning:
        sql += f" RETURNING {columns(returning)}"
    return sql


@functools.lru_cache(maxsize=64)
def _set(model: type[Model], name: str) -> str:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    field = _column_field(model, name)
    # The names are the model's own, quoted; the values are parameters.
    if _ARRAYS:
        return (
            f"UPDATE {table} SET {quote(field.column)} = new.value "  # noqa: S608
            f"FROM ({_from_json_rows([pk, field])}) AS new (pk, value) "
            f"WHERE {table}.{quote(pk.column)} = new.pk"
        )
    return f"UPDATE {table} SET {quote(field.column)} = %s WHERE {quote(pk.column)} = %s"  # noqa: S608


# PostgreSQL takes a list of values as one parameter (an array for rows_in,
# JSON rows for rows_insert and rows_set). A statement whose shape depends on
# how many values it carries (`IN (%s, %s, ...)`, a VALUES row each) is parsed
# again by psycopg on every call once it has more than 50 parameters: in a
# profile of batches of sends at 1,000/s, 15% of a worker's CPU. With one
# parameter per list the statement is the same for any number of values.
_ARRAYS = connection.vendor == "postgresql"


# Ids handed out ahead of an insert (new_ids).
_SEQUENCES = connection.vendor == "postgresql"


# Several statements in one query string: PostgreSQL's client-side binding (Django's default).
_TOGETHER = _ARRAYS and not settings.DATABASES["default"].get("OPTIONS", {}).get(
    "server_side_binding"
)


def _array(field: Field) -> str:
    """A parameter holding a list of `field`'s values, as an array of its column's type."""
    return f"%s::{_cast_type(field)}[]"


def _cast_type(field: Field) -> str:
    return field.cast_db_type(connection)  # type: ignore[attr-defined]  # (not in the stubs)


# Rows to insert or set go to PostgreSQL as one JSON parameter (an array of
# rows, each an array of values), read back in SQL column by column: psycopg
# binds parameters on the client, and quoting an array parameter costs it a few
# microseconds per element (10 rows of 5 columns: about 230 us of CPU, the same
# rows as JSON about 20), which for a batch of sends at 1,000/s was about a
# tenth of a worker's CPU.


def _from_json_rows(fields: list[Field]) -> str:
    """A SELECT of the rows in a JSON parameter, each value cast to its field's column type."""
    columns = ", ".join(
        f"(json_row ->> {position})::{_cast_type(field)}" for position, field in enumerate(fields)
    )
    return f"SELECT {columns} FROM json_array_elements(%s::json) AS json_row"  # noqa: S608


def _json_rows(rows: list[tuple[Any, ...]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=_json_value)


def _json_value(value: Any) -> str:
    """A value JSON has no type for, in the text its column's type reads."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a value rows_insert or rows_set can store")
