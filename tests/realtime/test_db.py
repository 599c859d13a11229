"""realtime.db: model instances read by plain SQL are the ORM's own, and rows
written by it are what the ORM reads back, for any number of rows."""

import asyncio
import datetime
import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg.pq import TransactionStatus

from realtime import db
from realtime.db import (
    DatabaseThreads,
    Rows,
    delete_in,
    insert,
    new_ids,
    rows_delete,
    rows_in,
    rows_insert,
    rows_set,
    run_together,
    select_in,
    set_values,
    transaction_in_trips,
)

pytestmark = pytest.mark.django_db


def field_values(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def test_a_row_reads_as_the_orms_instance(alice):
    alice.last_login = timezone.now()
    alice.is_staff = True
    alice.save()
    orm = get_user_model().objects.get(pk=alice.pk)

    read = Rows(get_user_model(), ("id", "=")).first(alice.pk)

    assert type(read) is type(orm)
    assert field_values(read) == field_values(orm)
    # Booleans and aware datetimes, as the ORM converts them (SQLite stores ints and text).
    assert read.is_staff is True and read.is_active is True
    assert read.date_joined.tzinfo is not None and read.last_login == orm.last_login
    assert not read._state.adding and read._state.db == orm._state.db


def test_no_row_is_none(alice):
    assert Rows(get_user_model(), ("id", "=")).first(alice.pk + 1000) is None


def test_a_rows_query_reads_as_first_does_beside_another(alice, bob):
    users = Rows(get_user_model(), ("id", "="))
    read, missing = run_together(users.query(alice.pk), users.query(bob.pk + 1000))
    assert field_values(read) == field_values(users.first(alice.pk))
    assert missing is None


def test_conditions_compare_converted_values():
    now = timezone.now()
    Session.objects.create(session_key="k" * 32, session_data="x", expire_date=now)
    sessions = Rows(Session, ("session_key", "="), ("expire_date", ">"))

    assert sessions.first("k" * 32, now - datetime.timedelta(seconds=1)).session_data == "x"
    assert sessions.first("k" * 32, now) is None  # not after its expiry


def test_the_first_row_in_order_among_those_with_null_fields(alice, bob, carol):
    User = get_user_model()
    User.objects.filter(pk=carol.pk).update(last_login=timezone.now())
    never_logged_in = Rows(User, ("id", ">="), null=("last_login",), order_by=("-id",))
    assert never_logged_in.first(alice.pk).pk == max(alice.pk, bob.pk)  # carol's is not NULL
    assert never_logged_in.first(carol.pk) is None
    assert Rows(User, ("id", ">="), order_by=("id",)).first(0).pk == min(alice.pk, bob.pk)
    # Locked for the rest of the transaction, where the database locks rows.
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert Rows(User, ("id", "="), lock=True).first(bob.pk).pk == bob.pk
    (query,) = queries.captured_queries
    assert ("FOR UPDATE" in query["sql"]) == connection.features.has_select_for_update


def test_only_comparisons_are_accepted():
    with pytest.raises(ValueError):
        Rows(Session, ("session_key", "= 1 OR 1 ="))


# More values than psycopg keeps a parsed statement for (50 parameters).
MANY = 60


def test_many_rows_inserted_read_back_as_the_orm_stores_them():
    now = timezone.now()
    rows = [
        (f"key-{n:04}", f"data {n} ü", connection.ops.adapt_datetimefield_value(now))
        for n in range(MANY)
    ]
    keys = rows_insert(
        Session, ("session_key", "session_data", "expire_date"), rows, returning=("session_key",)
    )

    assert sorted(key for (key,) in keys) == [key for key, _, _ in rows]
    stored = Session.objects.order_by("session_key")
    assert [(s.session_key, s.session_data, s.expire_date) for s in stored] == [
        (key, data, now) for key, data, _ in rows
    ]
    assert rows_insert(Session, ("session_key",), []) == []


def test_null_values_are_inserted_as_null():
    fields = ("username", "password", "first_name", "last_name", "email")
    fields += ("is_superuser", "is_staff", "is_active", "date_joined", "last_login")
    joined = connection.ops.adapt_datetimefield_value(timezone.now())
    users = [(f"user-{n}", "!", "", "", "", False, False, True, joined, None) for n in range(MANY)]
    rows_insert(get_user_model(), fields, users)

    assert get_user_model().objects.filter(last_login=None).count() == MANY


def test_rows_in_matches_every_listed_value(alice, bob, carol):
    User = get_user_model()
    ids = [carol.pk, alice.pk, *range(10_000, 10_000 + MANY)]

    found = sorted(rows_in(User, ("id", "username", "is_active"), id=ids), key=lambda u: u.pk)

    assert [user.pk for user in found] == sorted([alice.pk, carol.pk])
    assert [user.username for user in found] == [
        user.username for user in sorted([alice, carol], key=lambda u: u.pk)
    ]
    assert rows_in(User, ("id",), id=ids, username=["bob", carol.username]) == [carol]
    # Locked rows come in id order: every writer locks them in that order.
    with transaction.atomic():
        locked = rows_in(User, ("id",), id=[carol.pk, bob.pk, alice.pk], lock=True)
    assert [user.pk for user in locked] == sorted([alice.pk, bob.pk, carol.pk])


def test_rows_set_sets_each_row_its_own_value(alice, bob, carol):
    User = get_user_model()
    rows_set(User, "first_name", [(alice.pk, "Alice"), (carol.pk, "Carol")])
    rows_set(User, "first_name", [])

    names = dict(User.objects.values_list("username", "first_name"))
    assert names == {alice.username: "Alice", bob.username: "", carol.username: "Carol"}


def test_rows_delete_deletes_only_the_rows_matching_every_list():
    expire = timezone.now() + datetime.timedelta(days=1)
    for key, data in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")]:
        Session.objects.create(session_key=key, session_data=data, expire_date=expire)
    rows_delete(Session, session_key=["nobody"])  # nothing matches: nothing goes
    keys = ["a", "c", "d", *(f"k{n}" for n in range(MANY))]
    rows_delete(Session, session_key=keys, session_data=["y"])
    assert sorted(Session.objects.values_list("session_key", flat=True)) == ["a", "b"]
    # Run with others: the statements in order, in one trip where the database takes it.
    with transaction.atomic():
        run_together(delete_in(Session, session_key=["a"]), delete_in(Session, session_data=["x"]))
    assert not Session.objects.exists()


def test_queries_run_together_in_order_each_with_its_own_result(alice, bob, carol):
    User = get_user_model()
    results = run_together(
        select_in(User, ("id", "first_name"), id=[alice.pk, carol.pk]),
        set_values(User, "first_name", [(alice.pk, "Alice"), (bob.pk, "Bob")]),
        select_in(User, ("id", "first_name"), id=[alice.pk, bob.pk]),
        insert(Session, ("session_key", "session_data", "expire_date"), session_rows(3)),
        insert(
            Session,
            ("session_key", "session_data", "expire_date"),
            session_rows(1, start=3),
            returning=("session_key",),
        ),
    )

    before, nothing, after, inserted, returned = results
    assert sorted((user.pk, user.first_name) for user in before) == [
        (alice.pk, ""),
        (carol.pk, ""),
    ]
    assert nothing is None
    # Each statement sees what those before it wrote.
    assert sorted((user.pk, user.first_name) for user in after) == [
        (alice.pk, "Alice"),
        (bob.pk, "Bob"),
    ]
    assert inserted == []
    assert returned == [("key-0003",)]
    assert Session.objects.count() == 4


def test_queries_run_together_fail_together(alice):
    User = get_user_model()
    with pytest.raises(IntegrityError), transaction.atomic():
        run_together(
            set_values(User, "first_name", [(alice.pk, "Alice")]),
            insert(Session, ("session_key", "session_data", "expire_date"), session_rows(1)),
            insert(Session, ("session_key", "session_data", "expire_date"), session_rows(1)),
        )

    alice.refresh_from_db()
    assert alice.first_name == ""
    assert not Session.objects.exists()


SESSION_FIELDS = ("session_key", "session_data", "expire_date")


@pytest.mark.django_db(transaction=True)
def test_a_transaction_in_trips_commits_its_statements_together_then_runs_its_hooks(alice):
    User = get_user_model()
    hooks = []
    with transaction_in_trips() as trips:
        trips.run(set_values(User, "first_name", [(alice.pk, "Alice")]))
        transaction.on_commit(lambda: hooks.append(User.objects.get(pk=alice.pk).first_name))
        if trips.carry:
            # The first trip began the transaction: psycopg sent no BEGIN of its own.
            assert connection.connection.info.transaction_status == TransactionStatus.INTRANS
        trips.run(insert(Session, SESSION_FIELDS, session_rows(2)), last=True)
        if trips.carry:
            # The last trip committed: psycopg has nothing left to send.
            assert connection.connection.info.transaction_status == TransactionStatus.IDLE
        assert hooks == []  # Django's block has not ended
        with pytest.raises(RuntimeError):
            trips.run(insert(Session, SESSION_FIELDS, session_rows(1, start=5)))

    assert hooks == ["Alice"]
    assert Session.objects.count() == 2
    assert connection.get_autocommit()
    # Back as Django's own blocks expect it.
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        User.objects.filter(pk=alice.pk).update(last_name="Liddell")
        if trips.carry:
            assert not connection.connection.autocommit
        raise ZeroDivisionError
    alice.refresh_from_db()
    assert alice.last_name == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("refused_at", ["first", "last"])
def test_a_transaction_in_trips_that_fails_stores_nothing_and_leaves_a_sound_connection(
    alice, refused_at
):
    User = get_user_model()
    twice = insert(Session, SESSION_FIELDS, session_rows(1) + session_rows(1))
    hooks = []
    with pytest.raises(IntegrityError), transaction_in_trips() as trips:
        transaction.on_commit(lambda: hooks.append("run"))
        trips.run(
            set_values(User, "first_name", [(alice.pk, "Alice")]),
            *([twice] if refused_at == "first" else []),
        )
        trips.run(set_values(User, "last_name", [(alice.pk, "Liddell")]))
        trips.run(*([twice] if refused_at == "last" else []), last=True)

    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("", "")
    assert not Session.objects.exists()
    assert hooks == []
    # The next one goes through.
    with transaction_in_trips() as trips:
        trips.run(insert(Session, SESSION_FIELDS, session_rows(1)), last=True)
    assert Session.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_transaction_in_trips_inside_another_block_is_part_of_it(alice):
    User = get_user_model()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        with transaction_in_trips() as trips:
            assert not trips.carry  # the outer block's transaction is its own
            trips.run(set_values(User, "first_name", [(alice.pk, "Alice")]), last=True)
        raise ZeroDivisionError

    alice.refresh_from_db()
    assert alice.first_name == ""


@pytest.mark.django_db(transaction=True)
def test_ids_taken_ahead_are_new_and_the_rows_inserted_with_them_keep_them(alice):
    User = get_user_model()
    taken = new_ids(User, 3)
    if connection.vendor != "postgresql":
        assert taken is None  # the insert's RETURNING gives them
        return
    first, second = run_together(taken, new_ids(User, 2))
    ids = first + second
    assert len(set(ids)) == 5 and min(ids) > alice.pk
    User.objects.create(pk=ids[0], username="ahead")
    later = User.objects.create(username="after")
    assert later.pk > max(ids)


def test_a_database_thread_outlives_a_connection_it_could_not_give_back(monkeypatch, caplog):
    # Were the thread gone, the calls queued for it would wait for ever.
    released = threading.Event()

    def fails():
        released.set()
        raise OperationalError("the server went away")

    monkeypatch.setattr(db, "close_old_connections", fails)
    monkeypatch.setattr(db.connections, "close_all", fails)
    executor = DatabaseThreads(1, name="test-release", idle=0.01)
    try:
        assert executor.submit(lambda: 1).result(timeout=5) == 1
        assert released.wait(timeout=5)  # idle: it gives its connection back
        assert executor.submit(lambda: 2).result(timeout=5) == 2
    finally:
        executor.shutdown()
    assert "could not give its connection back" in caplog.text


def test_an_outcome_for_a_closed_loop_is_dropped():
    """A call whose caller's loop closed while it ran (a process stopping)
    finishes without raising in the thread."""
    threads = DatabaseThreads(1, name="test-closed")
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait(5)
        return 1

    closing, next_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        threads.run_for(closing, slow)
        assert started.wait(5)
        closing.close()
        release.set()
        threads.run_for(next_loop, finished.set)
        assert finished.wait(5)  # the thread lived on to the next call
    finally:
        threads.shutdown()
        next_loop.close()


def session_rows(count: int, *, start: int = 0) -> list[tuple]:
    expires = connection.ops.adapt_datetimefield_value(timezone.now())
    return [(f"key-{n:04}", "data", expires) for n in range(start, start + count)]


def test_any_text_is_stored_as_it_was_given():
    awkward = [
        "quotes \" and ' and `",
        'back\\slash \\" \\u0041 {braces} [brackets] ,commas,',
        "lines\nand\ttabs\r\n",
        "emoji 🦆 and ü, \u2028, \u200b, and ﷺ",
        "NULL",
        "",
        "%s %(name)s %% $1",
    ]
    expires = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [(f"key-{n:04}", text, expires) for n, text in enumerate(awkward)]
    rows_insert(Session, ("session_key", "session_data", "expire_date"), rows)
    rows_set(Session, "session_data", [(f"key-{n:04}", text * 2) for n, text in enumerate(awkward)])

    stored = Session.objects.order_by("session_key").values_list("session_data", flat=True)
    assert list(stored) == [text * 2 for text in awkward]
