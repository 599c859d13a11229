"""Fixtures for the multi-process tests: one stack for the package (a private
redis-server, a fresh database, two `manage.py serve` workers), users logged in
over HTTP, a fresh room per test, and socket clients closed after each test.

A test may kill a worker or stop Redis: the `workers` fixture brings both back
before the next test. Everything is stopped at the end, even after a failure.
"""

from __future__ import annotations

import asyncio
import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
import pytest_asyncio

from harness.clients import HttpSession, NotificationClient, RoomClient, login, stop_all
from harness.stack import ServeWorker, Stack

PASSWORD = "it-Password-53"
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
STAFF = "admin"
# The storm's sockets: 20 per user stays well below REALTIME_MAX_SOCKETS_PER_USER (60).
STORM_USERS = [f"storm{n}" for n in range(10)]

STACK_ENV = {
    # Every login comes from 127.0.0.1.
    "AUTH_RATE_LIMIT": "0",
    # Senders flood on purpose.
    "CHAT_SEND_RATE_LIMIT": "0",
    # Clients fill gaps with history as fast as the tests make them.
    "CHAT_HISTORY_RATE_LIMIT": "0",
    "CHAT_HISTORY_BYTES_LIMIT": "0",
    # Every test makes a room as alice.
    "CHAT_ROOM_CREATE_RATE_LIMIT": "0",
}

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("integration figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def figure():
    """Record a measured figure: shown in the summary at the end of the run."""

    def record(line: str) -> None:
        FIGURES.append(line)
        print(line)

    return record


@pytest.fixture(scope="package")
def stack(request):
    # DEBUG off and collected static files, as in production; collected into the
    # stack's own directory, so runs side by side never rewrite each other's.
    stack = Stack(collect_static=True, extra_env=dict(STACK_ENV))
    stack.extra_env["DJANGO_STATIC_ROOT"] = str(stack.workdir / "static")
    with stack:
        line = f"integration: the processes use {stack.database.describe()}"
        FIGURES.append(line)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
        yield stack


@pytest.fixture(scope="package")
def pair(stack) -> list[ServeWorker]:
    """Workers A and B: `manage.py serve --workers 1` each, on their own ports."""
    return [stack.start_worker(serve=True), stack.start_worker(serve=True)]


@pytest.fixture
def workers(stack, pair):
    """A and B running, with Redis up (restarted if an earlier test stopped them)."""
    if stack.redis.process is None or stack.redis.process.poll() is not None:
        stack.redis.start()
    for worker in pair:
        if not worker.alive():
            worker.start()
        worker.wait_healthy()
    yield pair
    # Shown by pytest when the test failed.
    for worker in pair:
        print(f"--- {worker.log_path.name} ---\n{worker.log()[-6000:]}")


@pytest.fixture
def start_worker(stack, workers):
    """Start another `manage.py serve` worker with extra settings (environment);
    it is stopped after the test."""
    started: list[ServeWorker] = []

    def start(**env: str) -> ServeWorker:
        worker = stack.start_worker(serve=True, extra_env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        print(f"--- {worker.log_path.name} ---\n{worker.log()[-6000:]}")


@pytest.fixture(scope="package")
def password() -> str:
    """The password of every user of these tests."""
    return PASSWORD


@pytest.fixture(scope="package")
def storm_users() -> list[str]:
    """Users for the reconnect storm, logged in like the others."""
    return STORM_USERS


@pytest.fixture(scope="package")
def user_ids(stack) -> dict[str, int]:
    return stack.create_users([*USERS, STAFF, *STORM_USERS], PASSWORD, staff=[STAFF])


@pytest.fixture(scope="package")
def sessions(pair, user_ids) -> dict[str, HttpSession]:
    """Every user logged in once over HTTP (the logins spread over both workers)."""
    names = [*USERS, STAFF, *STORM_USERS]
    urls = itertools.cycle([worker.url for worker in pair])
    with ThreadPoolExecutor(max_workers=4) as pool:
        logged_in = pool.map(lambda args: login(*args, PASSWORD), zip(urls, names, strict=False))
        return dict(zip(names, logged_in, strict=True))


@pytest.fixture(scope="package")
def cookies(sessions) -> dict[str, str]:
    return {name: session.session_cookie for name, session in sessions.items()}


@pytest.fixture
def room(workers, sessions, request) -> str:
    """A fresh public room owned by alice, made through the site's form; its slug."""
    return sessions["alice"].create_room(request.node.name.removeprefix("test_")[:70])


@pytest_asyncio.fixture
async def clients(workers, cookies):
    """Open sockets as a user on a worker; all are closed after the test.

    await clients.room("bob", slug, b)            # falls back to the other worker
    await clients.notifications("bob", b)
    """
    factory = _Clients(workers, cookies)
    yield factory
    await stop_all(factory.opened)


class _Clients:
    def __init__(self, workers: list[ServeWorker], cookies: dict[str, str]) -> None:
        self.workers = workers
        self.cookies = cookies
        self.opened: list = []
        self._numbers = itertools.count(1)

    def _urls(self, worker, fallback: bool) -> list[str]:
        others = [w.url for w in self.workers if w is not worker] if fallback else []
        return [worker.url, *others]

    def _name(self, user: str, worker) -> str:
        return f"{user}@{worker.port}-{next(self._numbers)}"

    def room_client(
        self, user: str, slug: str, worker, *, fallback: bool = True, **options
    ) -> RoomClient:
        client = RoomClient(
            self._name(user, worker),
            self._urls(worker, fallback),
            slug,
            self.cookies[user],
            **options,
        )
        self.opened.append(client)
        return client

    async def room(self, user: str, slug: str, worker, **options) -> RoomClient:
        return await self.room_client(user, slug, worker, **options).start()

    async def notifications(
        self, user: str, worker, *, fallback: bool = True, **options
    ) -> NotificationClient:
        client = NotificationClient(
            self._name(user, worker), self._urls(worker, fallback), self.cookies[user], **options
        )
        self.opened.append(client)
        return await client.start()

    async def many(self, coroutines) -> list:
        return list(await asyncio.gather(*coroutines))
