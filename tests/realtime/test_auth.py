"""realtime.auth's login cache on the real Redis layer and store: a worker keeps
a checked login for the session's next socket, and whatever ends a login
(logout, a deleted session, a password change, a deactivation), on this worker
or another, makes the next handshake read the database again at once."""

import asyncio

import pytest
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.utils import timezone

from harness.sockets import db, expect_close, receive
from harness.waiting import hold, wait_for
from realtime import auth
from realtime.store import get_store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_cache():
    auth.logins.entries.clear()
    yield
    auth.logins.entries.clear()


async def logged_in(user) -> tuple[Client, str]:
    client = Client()
    await db(client.force_login)(user)
    return client, client.cookies["sessionid"].value


async def opens(connect_ws, room, cookie) -> bool:
    """Whether a socket with `cookie` is logged in (gets its hello)."""
    communicator, connected, _ = await connect_ws(f"/ws/chat/{room.slug}/", cookie=cookie)
    assert connected  # refusals are an accept and a close
    output = await communicator.receive_output(timeout=5)
    if output["type"] == "websocket.close":
        assert output["code"] == 4401
        return False
    return '"type":"hello"' in output["text"] or '"type": "hello"' in output["text"]


async def expire_behind_the_apps_back(session_key: str) -> None:
    """End a session without any signal (an UPDATE): only a database read sees it."""
    await db(Session.objects.filter(pk=session_key).update)(expire_date=timezone.now())


async def test_the_next_socket_of_a_session_takes_the_checked_login(connect_ws, public_room, alice):
    _, cookie = await logged_in(alice)
    assert await opens(connect_ws, public_room, cookie)
    await expire_behind_the_apps_back(cookie)
    # Kept: no database read, so the silent expiry is not seen...
    assert await opens(connect_ws, public_room, cookie)
    # ...until the entry is gone (REALTIME_LOGIN_CACHE_SECONDS).
    auth.logins.entries.clear()
    assert not await opens(connect_ws, public_room, cookie)


async def test_sockets_of_a_session_opening_together_read_the_database_once(
    connect_ws, public_room, alice, monkeypatch
):
    reads = []
    load = auth._load_logins

    async def counted(session_keys, session_store):
        reads.append(list(session_keys))
        return await load(session_keys, session_store)

    monkeypatch.setattr(auth, "_load_logins", counted)
    _, cookie = await logged_in(alice)
    assert await asyncio.gather(*(opens(connect_ws, public_room, cookie) for _ in range(3))) == [
        True,
        True,
        True,
    ]
    assert reads == [[cookie]]


@override_settings(REALTIME_LOGIN_CACHE_SECONDS=0)
async def test_without_the_cache_every_handshake_reads_the_database(connect_ws, public_room, alice):
    _, cookie = await logged_in(alice)
    assert await opens(connect_ws, public_room, cookie)
    await expire_behind_the_apps_back(cookie)
    assert not await opens(connect_ws, public_room, cookie)


async def test_after_logout_the_sessions_next_socket_is_refused(connect_ws, public_room, alice):
    client, cookie = await logged_in(alice)
    first, _ = (await connect_ws(f"/ws/chat/{public_room.slug}/", cookie=cookie))[:2]
    await receive(first, "hello")
    await db(client.post)("/accounts/logout/")
    await expect_close(first, 4401)
    assert not await opens(connect_ws, public_room, cookie)


async def test_after_a_password_change_the_users_next_socket_is_refused(
    connect_ws, public_room, alice
):
    _, cookie = await logged_in(alice)
    assert await opens(connect_ws, public_room, cookie)

    def change_password():
        alice.set_password("a-new-pass-phrase")
        alice.save()

    await db(change_password)()
    assert not await opens(connect_ws, public_room, cookie)


async def test_after_deactivation_the_users_next_socket_is_refused(connect_ws, public_room, alice):
    _, cookie = await logged_in(alice)
    assert await opens(connect_ws, public_room, cookie)
    alice.is_active = False
    await db(alice.save)()
    assert not await opens(connect_ws, public_room, cookie)


async def test_a_login_ended_on_another_worker_is_not_taken_from_this_ones_cache(
    connect_ws, public_room, alice
):
    _, cookie = await logged_in(alice)
    assert await opens(connect_ws, public_room, cookie)
    kept = auth.logins.entries[cookie]
    # Another worker deactivates alice: its receiver marks her in Redis; this
    # worker's cache still holds her login.
    await db(type(alice).objects.filter(pk=alice.pk).update)(is_active=False)
    await get_store().mark([auth._user_mark(alice.pk)], 60)
    assert auth.logins.entries[cookie] is kept
    assert not await opens(connect_ws, public_room, cookie)
    assert cookie not in auth.logins.entries


async def test_a_session_ended_on_another_worker_is_not_taken_from_this_ones_cache(
    connect_ws, public_room, alice
):
    _, cookie = await logged_in(alice)
    assert await opens(connect_ws, public_room, cookie)
    await expire_behind_the_apps_back(cookie)
    await get_store().mark([auth._session_mark(cookie)], 60)
    assert not await opens(connect_ws, public_room, cookie)


def django_user(session):
    """What Django's own get_user answers for `session` (it may flush it)."""
    from types import SimpleNamespace

    from django.contrib.auth import get_user

    return get_user(SimpleNamespace(session=session))


def saved_session(user, **changes) -> str:
    """A database session of `user` as login() leaves it, with `changes` to its data."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = auth._session_store("django.contrib.sessions.backends.db")()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    for key, value in changes.items():
        if value is None:
            del session[key]
        else:
            session[key] = value
    session.save()
    return session.session_key


@pytest.mark.parametrize(
    "case",
    ["logged in", "stale hash", "no hash", "other backend", "inactive", "user gone", "bad id"],
)
def test_a_sockets_login_answers_as_djangos_get_user(alice, case):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    changes = {
        "stale hash": {HASH_SESSION_KEY: "0" * 64},
        "no hash": {HASH_SESSION_KEY: None},
        "other backend": {BACKEND_SESSION_KEY: "django.contrib.auth.backends.RemoteUserBackend"},
        "bad id": {SESSION_KEY: "not-a-number"},
    }.get(case, {})
    key = saved_session(alice, **changes)
    if case == "inactive":
        alice.is_active = False
        alice.save()
    if case == "user gone":
        alice.delete()
    store = auth._session_store("django.contrib.sessions.backends.db")

    try:
        expected = django_user(store(key))
    except Exception as error:  # Django's own refusal of a malformed id
        expected = error
    try:
        answered = auth._session_user(store(key))
    except Exception as error:
        answered = error

    # The quick look says yes only where Django would; every other answer is Django's.
    assert (auth._plainly_logged_in(store(key)) is not None) == (case == "logged in")
    if isinstance(expected, Exception):
        assert type(answered) is type(expected)
        return
    assert answered.is_authenticated == expected.is_authenticated
    assert answered.pk == expected.pk
    assert answered.is_authenticated == (case == "logged in")


def test_a_sockets_session_reads_djangos_database_session(alice):
    key = saved_session(alice)
    session = auth._session_store("django.contrib.sessions.backends.db")(key)

    assert session.load() == Session.objects.get(pk=key).get_decoded() != {}
    # An expired session reads as none, as Django's own does.
    Session.objects.filter(pk=key).update(expire_date=timezone.now())
    assert auth._session_store("django.contrib.sessions.backends.db")(key).load() == {}


async def test_logins_arriving_while_one_is_read_are_read_together(make_user, alice, monkeypatch):
    users = [alice, *[await db(make_user)(f"crowd{n}") for n in range(4)]]
    keys = [(await logged_in(user))[1] for user in users]
    reads = []
    first_read_may_go = asyncio.Event()
    load = auth._load_logins

    async def held(session_keys, session_store):
        reads.append(list(session_keys))
        if len(reads) == 1:
            await first_read_may_go.wait()
        return await load(session_keys, session_store)

    monkeypatch.setattr(auth, "_load_logins", held)
    middleware = auth.SessionAuthMiddleware(None)
    logins = [asyncio.ensure_future(middleware.login(key)) for key in keys]
    # The first read is under way, held; the others wait for it to end.
    await wait_for(lambda: middleware.reads is not None and len(middleware.reads.waiting) == 4)
    first_read_may_go.set()
    answered = await asyncio.wait_for(asyncio.gather(*logins), 5)

    assert reads == [keys[:1], keys[1:]]
    assert [user.pk for _, user in answered] == [user.pk for user in users]
    assert [session.session_key for session, _ in answered] == keys
    assert set(auth.logins.entries) == set(keys)  # each kept for its next socket


async def test_a_failed_read_fails_its_logins_and_the_next_reads_go_on(alice, bob, monkeypatch):
    _, alices = await logged_in(alice)
    _, bobs = await logged_in(bob)
    load = auth._load_logins

    async def away(session_keys, session_store):
        raise OSError("database away")

    monkeypatch.setattr(auth, "_load_logins", away)
    middleware = auth.SessionAuthMiddleware(None)
    with pytest.raises(OSError):
        await middleware.login(alices)
    assert not middleware.reads.pending and middleware.reads.reading is None

    monkeypatch.setattr(auth, "_load_logins", load)
    _, user = await asyncio.wait_for(middleware.login(bobs), 5)
    assert user.pk == bob.pk


async def test_a_socket_leaving_while_its_login_is_read_stops_no_other_of_its_session(
    alice, monkeypatch
):
    _, cookie = await logged_in(alice)
    release = hold(monkeypatch, auth, "_load_logins")
    middleware = auth.SessionAuthMiddleware(None)
    leaving = asyncio.ensure_future(middleware.login(cookie))
    staying = asyncio.ensure_future(middleware.login(cookie))
    await wait_for(lambda: middleware.reads is not None and middleware.reads.reading is not None)
    leaving.cancel()
    release.set()
    _, user = await asyncio.wait_for(staying, 5)
    assert user.pk == alice.pk and leaving.cancelled()


def test_logins_read_together_answer_as_each_read_alone(alice, bob, make_user):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    carol = make_user("carol")
    dave = make_user("dave")
    keys = {
        "logged in": saved_session(alice),
        "again": saved_session(alice),
        "stale hash": saved_session(bob, **{HASH_SESSION_KEY: "0" * 64}),
        "no hash": saved_session(bob, **{HASH_SESSION_KEY: None}),
        "other backend": saved_session(
            bob, **{BACKEND_SESSION_KEY: "django.contrib.auth.backends.RemoteUserBackend"}
        ),
        "bad id": saved_session(bob, **{SESSION_KEY: "not-a-number"}),
        "inactive": saved_session(carol),
        "user gone": saved_session(dave),
        "expired": saved_session(bob),
        "no such session": "x" * 32,
        "too short a key": "short",
    }
    carol.is_active = False
    carol.save()
    dave.delete()
    Session.objects.filter(pk=keys["expired"]).update(expire_date=timezone.now())
    store = auth._session_store("django.contrib.sessions.backends.db")

    together = auth._read_logins(list(keys.values()), store)

    assert list(together) == list(keys.values())
    for case, key in keys.items():
        read = together[key]
        session = store(key)
        try:
            alone = auth._session_user(session)
        except Exception as error:  # the malformed id: its own answer only
            assert case == "bad id"
            assert type(read.error) is type(error) and read.user is None
            continue
        assert read.error is None
        assert read.user.is_authenticated == alone.is_authenticated
        assert read.user.pk == alone.pk
        assert read.user.is_authenticated == (case in ("logged in", "again"))
        assert dict(read.session.items()) == dict(session.items())
        assert read.session.session_key == session.session_key
        assert (read.seconds > 0) == read.user.is_authenticated


@pytest.mark.parametrize("length", [1, 2, 3, 5, 8, 100])
def test_a_batchs_lists_are_padded_to_a_power_of_two(length):
    values = list(range(length))

    padded = auth._padded(values)

    assert len(padded) & (len(padded) - 1) == 0 and len(padded) < 2 * length
    assert padded[:length] == values and set(padded) == set(values)


async def test_the_login_checks_read_every_session_but_the_one_that_raises(alice, bob):
    from django.contrib.auth import SESSION_KEY

    _, alices = await logged_in(alice)
    _, bobs = await logged_in(bob)
    malformed = await db(saved_session)(bob, **{SESSION_KEY: "not-a-number"})
    await expire_behind_the_apps_back(bobs)

    ids = await auth._login_user_ids([alices, malformed, bobs])

    assert ids == {alices: alice.pk, bobs: None}  # the malformed one waits for the next check


async def test_a_socket_without_a_session_is_refused_without_a_database_read(
    connect_ws, public_room, monkeypatch
):
    async def unreachable(session_keys, session_store):
        raise AssertionError("a login without a session read the database")

    monkeypatch.setattr(auth, "_load_logins", unreachable)

    assert not await opens(connect_ws, public_room, None)
    _, user = await auth.SessionAuthMiddleware(None).login(None)
    assert not user.is_authenticated
