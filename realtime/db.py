"""Database calls from socket consumers, and statements of fixed shape for
the hot paths (a handshake's reads, a batch of sends): the ORM builds and
compiles a query on every call, which there cost more than the query."""

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, ParamSpec, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, connections, router
from django.db.models import Field, Model

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
M = TypeVar("M", bound=Model)


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

    `where` pairs a field name with a comparison (`("slug", "=")`), ANDed.
    Parameters and every concrete field read are converted as the ORM would
    (SQLite's booleans and datetimes, time zones), so the instances are the
    same as `Model.objects.get`'s.
    """

    OPERATORS = frozenset({"=", "<", "<=", ">", ">="})

    def __init__(self, model: type[M], *where: tuple[str, str]) -> None:
        if not where or any(operator not in self.OPERATORS for _, operator in where):
            raise ValueError(f"conditions must compare fields with {sorted(self.OPERATORS)}")
        self.model = model
        self.where = [(_column_field(model, name), operator) for name, operator in where]
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self._prepared: dict[str, tuple[str, list]] = {}  # per database alias

    def _prepare(self, connection) -> tuple[str, list]:
        prepared = self._prepared.get(connection.alias)
        if prepared is None:
            quote = connection.ops.quote_name
            table = self.model._meta.db_table
            columns = ", ".join(quote(field.column) for field in self.fields)
            where = " AND ".join(f"{quote(field.column)} {op} %s" for field, op in self.where)
            sql = f"SELECT {columns} FROM {quote(table)} WHERE {where} LIMIT 1"  # noqa: S608
            converters = _converters(connection, self.model, list(self.fields))
            prepared = self._prepared[connection.alias] = (sql, converters)
        return prepared

    def first(self, *values: Any) -> M | None:
        """Return the first row whose fields compare so with `values`, or None."""
        connection = connections[router.db_for_read(self.model)]
        sql, converters = self._prepare(connection)
        params = [
            field.get_db_prep_value(value, connection)
            for (field, _), value in zip(self.where, values, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return _instance(connection, self.model, self.attnames, converters, row)


def rows_in(
    model: type[M], fields: tuple[str, ...], *, lock: bool = False, **where: list[Any]
) -> list[M]:
    """Return the rows of `model` whose fields each have one of the values
    listed in `where`, ordered by id, as instances with `fields` loaded (the
    others deferred); `lock`: locked for the transaction, where the database
    locks rows. On the default database, in its current transaction."""
    quote = connection.ops.quote_name
    meta = model._meta
    # In the model's order, as Model.from_db reads them.
    loaded = [field for field in meta.concrete_fields if field.name in fields]
    columns = ", ".join(quote(field.column) for field in loaded)
    conditions = " AND ".join(
        f"{quote(_column_field(model, name).column)} IN ({', '.join(['%s'] * len(values))})"
        for name, values in where.items()
    )
    # The names are the model's own, quoted; the values are parameters.
    sql = (
        f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {conditions} ORDER BY {quote(meta.pk.column)}"
    )
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for values in where.values() for value in values])
        rows = cursor.fetchall()
    attnames = [field.attname for field in loaded]
    converters = _converters(connection, model, loaded)
    return [_instance(connection, model, attnames, converters, row) for row in rows]


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
    quote = connection.ops.quote_name

    def columns(names: tuple[str, ...]) -> str:
        return ", ".join(quote(_column_field(model, name).column) for name in names)

    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # The names are the model's own, quoted; the values are parameters.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns(fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(rows))}"
    )
    if returning:
        sql += f" RETURNING {columns(returning)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for values in rows for value in values])
        return cursor.fetchall() if returning else []
