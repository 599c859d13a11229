"""Shared fixtures: a private redis-server on a free port for the whole run, the
real channels-redis layer on it, users, logged-in session cookies, and sockets."""

import asyncio
import contextlib

import pytest
import pytest_asyncio
import redis
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from chat import services
from chat.models import Room
from config import settings as django_settings_module
from harness.redis_server import RedisServer
from harness.sockets import receive
from notifications import email_receivers
from realtime import presence, registry
from realtime.db import stop_database_threads

ORIGIN = "http://testserver"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Run the browser tests last: Playwright's sync API runs an event loop in the
    main thread while it is active, which the asyncio tests must not meet."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for this test run; never the machine's own."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _redis_channel_layer(redis_url):
    """Run every test on the real channels-redis layer: the in-memory one hides
    serialization bugs production would hit."""
    settings.REDIS_URL = redis_url
    settings.REDIS_HOSTS = [redis_url]
    # Hashing strength is not under test; PBKDF2 would cost ~0.5 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CHANNEL_LAYERS = {"default": django_settings_module.channel_layer_config([redis_url])}
    yield


@pytest.fixture(scope="session", autouse=True)
def _database_threads_stopped(django_db_setup, django_db_blocker):
    """The database threads keep their pooled connections while busy: they
    give them back before the test database is dropped. On PostgreSQL a
    connection that another thread of the run still holds (an executor's,
    idle since its last call) would keep the database from being dropped, and
    every run would leave one behind: the sessions still on it are ended."""
    yield
    stop_database_threads()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _fresh_realtime_state(redis_url):
    """Each test starts with an empty Redis and no layer connections from older loops."""
    redis.Redis.from_url(redis_url).flushall()
    cache.clear()  # login throttling counts
    channel_layers.backends = {}
    registry.forget_local()
    presence.forget_local()
    yield
    channel_layers.backends = {}
    registry.forget_local()
    presence.forget_local()


@pytest.fixture(autouse=True)
def _no_email_runs_remembered():
    """Each test's notifications enqueue their own email runs: a run another
    test enqueued (for a user with the same id) is not there to cover them."""
    email_receivers.scheduled.forget()


@pytest.fixture
def run_tasks(monkeypatch):
    """Run the background tasks that are due, here, with the database backend's own
    worker loop (`manage.py db_worker --batch`); return how many ran. Tests enqueue
    them after commit: `django_capture_on_commit_callbacks(execute=True)`."""
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    # The worker closes the database connection between tasks; here it is the
    # test's own, inside the test's transaction (Django's test client skips it too).
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)

    def run() -> int:
        before = DBTaskResult.objects.finished().count()
        Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="tests",
            excluded_queue_names=[],
        ).run()
        return DBTaskResult.objects.finished().count() - before

    return run


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, **extra):
        return django_user_model.objects.create_user(
            username=username, password="pw-for-tests-1", **extra
        )

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


@pytest.fixture
def public_room(alice):
    return services.room_create(name="General", created_by=alice)


@pytest.fixture
def private_room(alice, bob):
    room = services.room_create(name="Secret plans", created_by=alice, private=True)
    services.member_add(room=room, actor=alice, username=bob.username)
    return Room.objects.get(pk=room.pk)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest_asyncio.fixture
async def connect_ws():
    """Open a socket as `user` (None: anonymous) to `path`; closes them all at the end."""
    from config.asgi import application

    opened = []

    async def connect(
        path: str,
        user=None,
        *,
        origin: str | None = ORIGIN,
        cookie=None,
        language: str | None = None,
        extra_headers=(),
    ):
        headers = [(b"host", b"testserver"), *extra_headers]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if cookie is None and user is not None:
            from channels.db import database_sync_to_async

            cookie = await database_sync_to_async(session_cookie)(user)
        cookies = [f"{settings.SESSION_COOKIE_NAME}={cookie}"] if cookie else []
        if language is not None:
            # The header switcher's cookie (django_language), as a browser sends it.
            cookies.append(f"{settings.LANGUAGE_COOKIE_NAME}={language}")
        if cookies:
            headers.append((b"cookie", "; ".join(cookies).encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=5)
        opened.append(communicator)
        return communicator, connected, code

    yield connect
    for communicator in opened:
        # It may be closed by the server already, or crashed by a test on purpose.
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, RuntimeError):
            await communicator.disconnect()


@pytest.fixture
def sent_events(monkeypatch):
    """Record every (group, event) the channel layer is asked to deliver."""
    sent: list[tuple[str, dict]] = []
    layer = get_channel_layer()
    original = layer.group_send

    async def group_send(group, message):
        sent.append((group, message))
        await original(group, message)

    async def group_send_many(messages):
        sent.extend(messages)
        await original_many(messages)

    monkeypatch.setattr(layer, "group_send", group_send)
    original_many = getattr(layer, "group_send_many", None)  # a batch's events (realtime.push)
    if original_many is not None:
        monkeypatch.setattr(layer, "group_send_many", group_send_many)
    return sent


@pytest_asyncio.fixture
async def open_stream(connect_ws):
    """Open the user's own stream, `/ws/notifications/`; return (communicator, hello)."""

    async def open_(user, query: str = ""):
        communicator, connected, _ = await connect_ws(f"/ws/notifications/{query}", user)
        assert connected
        return communicator, await receive(communicator, "hello")

    return open_
