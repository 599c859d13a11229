"""Log a WebSocket in from its Django session cookie.

Channels' AuthMiddlewareStack wraps the socket's `send` to save a changed session
and set its cookie, which only HTTP responses can carry; on a WebSocket that
wrapper just costs two lazy-object lookups on every frame sent. Sockets never
change the session, so this reads it once at the handshake and leaves `send` as
the server gave it.

Logins waiting for the database are read together (LoginReads): a crowd
arriving at once costs a trip to the database threads and two statements per
batch, not per socket.

A checked login is kept per worker for REALTIME_LOGIN_CACHE_SECONDS, for the
next socket of the same session (a user's room and notifications sockets, a
reconnect): one Redis read instead of a trip to the database threads and two
queries. What ends a login (logout, a deleted or rotated session, a password
change, a deactivation, a deleted user: realtime.receivers) marks the session
or the user in Redis for longer than any entry lives, and a handshake that finds
a mark reads the database again; so does one that cannot reach Redis.
"""

import asyncio
import itertools
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user,
    get_user_model,
)
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from redis.exceptions import RedisError

from .db import Rows, db_call, rows_in
from .heartbeat import Rounds
from .store import get_store

if TYPE_CHECKING:
    # Models: importable only once the apps are loaded.
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger(__name__)

_sessions = Rows(Session, ("session_key", "="), ("expire_date", ">"))
_users = Rows(User, ("id", "="))
_USER_FIELDS = tuple(field.name for field in User._meta.concrete_fields)
_SESSION_FIELDS = ("session_key", "session_data", "expire_date")

LOGINS_MAX = 20_000  # sessions a worker keeps at most
# A mark outlives every entry cached before it by this much (clocks, slow commits).
MARK_MARGIN = 60


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _session_user(
    session: "SessionBase", users: "Mapping[Any, AbstractBaseUser] | None" = None
) -> "AbstractBaseUser | AnonymousUser":
    """Return the user `session` logs in, or AnonymousUser.

    Django's own get_user (loads the user, checks the session's auth hash: a
    changed password logs the session out), after a quicker look that can
    only say yes: every other answer is Django's. `users`: the users read
    already, by id (a batch's: _read_logins).
    """
    user = _plainly_logged_in(session, users)
    if user is not None:
        return user
    # get_user reads nothing of the request but its session.
    return get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]


def _plain_claim(session: "SessionBase") -> tuple[Any, str] | None:
    """The user id and auth hash of a session Django's ModelBackend logged
    in, with the default user model; None in every other case (no login,
    another backend or model, a malformed id or hash), for get_user to decide."""
    user_model = get_user_model()
    if user_model is not User:  # a custom model may have its own manager
        return None
    try:
        user_id = user_model._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
        session_hash = session[HASH_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path != MODEL_BACKEND or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    if not isinstance(session_hash, str) or not session_hash:
        return None
    return user_id, session_hash


def _plainly_logged_in(
    session: "SessionBase", users: "Mapping[Any, AbstractBaseUser] | None" = None
) -> "AbstractBaseUser | None":
    """Return the user of a session Django's ModelBackend logged in, when
    get_user would return it as is: the user exists and is active, and the
    session's auth hash matches the current password under the current secret
    key. None in every other case (no login, another backend, a hash to check
    against the fallback keys, a user gone or inactive), for get_user to decide.

    The user is taken from `users` (read with a batch's others), or read
    with one plain query (realtime.db.Rows): on a crowd joining, the ORM's
    query building in get_user cost more than the read.
    """
    claim = _plain_claim(session)
    if claim is None:
        return None
    user_id, session_hash = claim
    user = _users.first(user_id) if users is None else users.get(user_id)
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    return user


class SessionStore(DatabaseSessionStore):
    """Django's database session, read with one plain query instead of the
    ORM's (the same row, the same expiry test, the same decoding: the class
    keeps Django's name, which salts the session data's signature)."""

    _session_cache: dict[str, Any]  # SessionBase's loaded data

    def _get_session_from_db(self):
        row = _sessions.first(self.session_key, timezone.now())
        if row is None:
            self._session_key = None  # as Django's does: a fresh session, not this key
        return row

    @classmethod
    def load_together(cls, sessions: "list[SessionStore]") -> None:
        """Read the rows of `sessions` in one statement, and load each as
        load() would have (the same expiry test and decoding; a session
        without a row is a fresh one, not its key)."""
        keys = [session.session_key for session in sessions if session.session_key]
        if not keys:
            return
        now = timezone.now()
        rows = {
            row.session_key: row
            for row in rows_in(Session, _SESSION_FIELDS, session_key=_padded(keys))
        }
        for session in sessions:
            if not session.session_key:
                continue  # loads as empty, without a read
            row = rows.get(session.session_key)
            if row is None or row.expire_date <= now:
                session._session_key = None
                session._session_cache = {}
            else:
                session._session_cache = session.decode(row.session_data)


def _padded(values: list[Any]) -> list[Any]:
    """`values`, the last repeated up to a length that is a power of two:
    off PostgreSQL an IN list's length is part of its statement, and a batch
    of every length would write and keep a statement of its own."""
    size = 1 << (len(values) - 1).bit_length()
    return values + values[-1:] * (size - len(values))


def _session_store(engine: str):
    """Return the session store class of `engine`, the quicker one for
    Django's database sessions."""
    store = import_module(engine).SessionStore
    return SessionStore if store is DatabaseSessionStore else store


def _cookies(scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1"))
    return {}


def _session_mark(session_key: str) -> str:
    return f"login-ended:session:{session_key}"


def _user_mark(user_id: Any) -> str:
    return f"login-ended:user:{user_id}"


@dataclass(frozen=True)
class _Login:
    session: Any
    user: Any
    until: float  # monotonic


class LoginCache:
    """Checked logins of this worker, by session key, least recently used first."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, _Login] = OrderedDict()

    def get(self, session_key: str) -> _Login | None:
        entry = self.entries.get(session_key)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            del self.entries[session_key]
            return None
        self.entries.move_to_end(session_key)
        return entry

    def put(self, session_key: str, session, user, seconds: float) -> None:
        self.entries[session_key] = _Login(session, user, time.monotonic() + seconds)
        self.entries.move_to_end(session_key)
        while len(self.entries) > LOGINS_MAX:
            self.entries.popitem(last=False)

    def forget(self, session_key: str | None = None, user_id: Any = None) -> None:
        if session_key is not None:
            self.entries.pop(session_key, None)
        if user_id is not None:
            for key in [k for k, e in self.entries.items() if e.user.pk == user_id]:
                del self.entries[key]


logins = LoginCache()


def _cache_seconds(session) -> float:
    """How long a login checked now may be kept: the setting, within the
    session's own expiry."""
    seconds = float(settings.REALTIME_LOGIN_CACHE_SECONDS)
    if seconds <= 0:
        return 0.0
    return min(seconds, float(session.get_expiry_age()))


async def _mark(keys: list[str], ttl: int) -> None:
    await get_store().mark(keys, ttl)


async def _still_unmarked(session_key: str, user_id: Any) -> bool:
    try:
        return not await get_store().any_marked([_session_mark(session_key), _user_mark(user_id)])
    except (OSError, RedisError):
        return False  # not knowing, read the database


class SessionAuthMiddleware:
    """Set scope["session"] and scope["user"] (AnonymousUser when not logged in)."""

    def __init__(self, application) -> None:
        self.application = application
        self.session_store = _session_store(settings.SESSION_ENGINE)
        self.reads: LoginReads | None = None

    async def __call__(self, scope, receive, send):
        cookies = _cookies(scope)
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        session, user = await self.login(session_key)
        scope = {**scope, "cookies": cookies, "session": session, "user": user}
        return await self.application(scope, receive, send)

    async def login(self, session_key: str | None) -> tuple[Any, Any]:
        if not session_key:
            # Nobody to read: Django's get_user answers so without the database,
            # and a crowd of sockets without a login costs no trip to it.
            return self.session_store(None), AnonymousUser()
        cached = logins.get(session_key)
        if cached is not None:
            if await _still_unmarked(session_key, cached.user.pk):
                return cached.session, cached.user
            logins.forget(session_key)
        if self.reads is None or self.reads.loop is not asyncio.get_running_loop():
            self.reads = LoginReads(self.session_store)
        # Shared by every socket of the session waiting: one leaving stops no other's.
        read = await asyncio.shield(self.reads.read(session_key))
        return read.session, read.user


@dataclass(frozen=True)
class _Read:
    """A session's login as read: the session, its user (AnonymousUser when
    it logs nobody in) and how long it may be kept; or what reading it raised."""

    session: Any = None
    user: Any = None
    seconds: float = 0.0
    error: Exception | None = None


def _read_logins(session_keys: list[str], session_store) -> dict[str, _Read]:
    """The login of each session, as _session_user reads one: Django's
    database sessions, and the users they plainly log in, read in one
    statement each for all of them. What one session raises is its answer
    alone."""
    sessions = {key: session_store(key) for key in session_keys}
    if session_store is SessionStore:
        SessionStore.load_together(list(sessions.values()))
    claimed = sorted({claim[0] for claim in map(_plain_claim, sessions.values()) if claim})
    users = (
        {user.pk: user for user in rows_in(User, _USER_FIELDS, id=_padded(claimed))}
        if claimed
        else {}
    )
    answers = {}
    for key, session in sessions.items():
        try:
            user = _session_user(session, users)
            seconds = _cache_seconds(session) if user.is_authenticated else 0.0
        except Exception as error:
            answers[key] = _Read(error=error)
        else:
            answers[key] = _Read(session, user, seconds)
    return answers


_load_logins = db_call(_read_logins)


class LoginReads:
    """The logins waiting for the database on one event loop, read together.

    Each handshake's login used to be a trip of its own to the database
    threads and two statements: 800-920 us of the process's CPU a login with
    50 at once (`python -m bench.logins`: one process, PostgreSQL, the cache
    off); the thread and the event loop fall asleep and are woken for every
    trip. Here the first login to wait goes at once, and those that come
    while a read is under way go together in the next, up to BATCH of them:
    one trip and two statements for the lot, 90-125 us a login (one by one
    in shared trips: 270-340 us). Sockets of one session opening
    together (a page's room and bell) wait for the same read. Each login
    read is kept (`logins`).
    """

    BATCH = 100

    def __init__(self, session_store) -> None:
        self.session_store = session_store
        self.loop = asyncio.get_running_loop()
        self.waiting: dict[str, asyncio.Future[_Read]] = {}  # not yet read
        self.pending: dict[str, asyncio.Future[_Read]] = {}  # waiting or being read
        self.reading: asyncio.Task | None = None

    def read(self, session_key: str) -> "asyncio.Future[_Read]":
        """The login of `session_key`, read with the others waiting."""
        answer = self.pending.get(session_key)
        if answer is None:
            answer = self.loop.create_future()
            self.pending[session_key] = self.waiting[session_key] = answer
        if self.reading is None:
            self._next()
        return answer

    def _next(self) -> None:
        keys = list(itertools.islice(self.waiting, self.BATCH))
        batch = {key: self.waiting.pop(key) for key in keys}
        self.reading = self.loop.create_task(self._read(batch))

    async def _read(self, batch: dict[str, "asyncio.Future[_Read]"]) -> None:
        try:
            answers = await _load_logins(list(batch), self.session_store)
        except asyncio.CancelledError:  # the loop is closing: nobody is answered
            for key, answer in [*batch.items(), *self.waiting.items()]:
                self.pending.pop(key, None)
                answer.cancel()
            self.waiting.clear()
            self.reading = None
            raise
        except Exception as error:  # the database: every login of the batch fails
            answers = {key: _Read(error=error) for key in batch}
        try:
            for key, answer in batch.items():
                del self.pending[key]
                read = answers[key]
                if read.error is not None:
                    answer.set_exception(read.error)
                    continue
                if read.seconds > 0 and read.session.session_key:
                    logins.put(read.session.session_key, read.session, read.user, read.seconds)
                answer.set_result(read)
        finally:
            # Whatever happened to this batch, the logins waiting are read.
            self.reading = None
            if self.waiting:
                self._next()


def login_ended(*, session_key: str | None = None, user_id: Any = None) -> None:
    """A login ended (logout, a session deleted, a password changed, a user
    deactivated or deleted): no worker takes it from its cache any more.

    Marked in Redis at once and again after commit (a handshake reading the
    database before the commit still saw the login valid), for longer than any
    entry lives."""
    keys = []
    if session_key:
        keys.append(_session_mark(session_key))
    if user_id is not None:
        keys.append(_user_mark(user_id))
    if not keys:
        return
    logins.forget(session_key, user_id)

    def mark() -> None:
        ttl = max(int(settings.REALTIME_LOGIN_CACHE_SECONDS), 0) + MARK_MARGIN
        try:
            async_to_sync(_mark)(keys, ttl)
        except (OSError, RedisError):
            # Each worker's entries still end within REALTIME_LOGIN_CACHE_SECONDS.
            logger.warning("could not mark an ended login in redis", exc_info=True)
        logins.forget(session_key, user_id)

    if settings.REALTIME_LOGIN_CACHE_SECONDS <= 0:
        return
    mark()
    transaction.on_commit(mark, robust=True)


def _logged_in_id(session_key: str) -> int | None:
    """The pk of the user the session logs in, or None."""
    session = _session_store(settings.SESSION_ENGINE)(session_key)
    user = _session_user(session)
    return user.pk if user.is_authenticated else None


_login_user_id = db_call(_logged_in_id)


async def login_still_valid(session, user) -> bool:
    """Return whether the socket's login session still logs in `user`: not
    expired or deleted, the password unchanged, the account active."""
    if session is None or not session.session_key:
        return False
    return await _login_user_id(session.session_key) == user.pk


@db_call
def _login_user_ids(session_keys: list[str]) -> dict[str, int | None]:
    """_login_user_id of each session, read together; a session whose read
    raised is left out (logged)."""
    ids: dict[str, int | None] = {}
    answers = _read_logins(list(session_keys), _session_store(settings.SESSION_ENGINE))
    for key, read in answers.items():
        if read.error is not None:
            logger.warning("login check of a session failed", exc_info=read.error)
        else:
            ids[key] = read.user.pk if read.user.is_authenticated else None
    return ids


class LoginChecks(Rounds[tuple[str | None, Any]]):
    """The logins of a worker's sockets, looked at again together.

    Sessions can end without the logout view (expiry, deletion on the server,
    a password changed elsewhere): within every REALTIME_SESSION_RECHECK s
    the worker reads the login of every session its sockets hold, CHUNK
    sessions per database call, and ends the sockets whose session no longer
    logs in their user. One check per session, whatever its sockets; no timer
    or task per socket. Each socket's own check, every 300 s on its own, found
    the database thread and its caches cold each time: a call after an idle
    spell cost 1.6-1.9 ms of the process's CPU, 0.43-0.64 back to back.
    """

    CHUNK = 100

    def __init__(self) -> None:
        super().__init__("login checks", self.check, every=_recheck)

    async def check(self) -> None:
        """Read every watched socket's login once; end the sockets whose
        session no longer logs in their user."""
        watched = list(self.sockets.items())
        keys = sorted({key for key, _ in self.sockets.values() if key})
        logged_in: dict[str | None, Any] = {None: None}
        for start in range(0, len(keys), self.CHUNK):
            chunk = keys[start : start + self.CHUNK]
            try:
                logged_in.update(await _login_user_ids(chunk))
            except Exception:
                # Those sessions wait for the next check; the others go on.
                logger.warning("login check failed", exc_info=True)
        for socket, (key, user_id) in watched:
            if key in logged_in and logged_in[key] != user_id and socket in self.sockets:
                socket.deliver({"type": "realtime.session_ended"})


def _recheck() -> float:
    # Within REALTIME_SESSION_RECHECK s, as documented; not at the same moment
    # in every worker.
    return settings.REALTIME_SESSION_RECHECK * random.uniform(0.75, 1.0)


login_checks = LoginChecks()
