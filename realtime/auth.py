"""Log a WebSocket in from its Django session cookie.

Channels' AuthMiddlewareStack wraps the socket's `send` to save a changed session
and set its cookie, which only HTTP responses can carry; on a WebSocket that
wrapper just costs two lazy-object lookups on every frame sent. Sockets never
change the session, so this reads it once at the handshake and leaves `send` as
the server gave it.

A checked login is kept per worker for REALTIME_LOGIN_CACHE_SECONDS, for the
next socket of the same session (a user's room and notifications sockets, a
reconnect): one Redis read instead of a trip to the database threads and two
queries. What ends a login (logout, a deleted or rotated session, a password
change, a deactivation, a deleted user: realtime.receivers) marks the session
or the user in Redis for longer than any entry lives, and a handshake that finds
a mark reads the database again; so does one that cannot reach Redis.
"""

import asyncio
import logging
import random
import time
from collections import OrderedDict
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
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from redis.exceptions import RedisError

from .db import Rows, db_call
from .heartbeat import Rounds
from .store import get_store

if TYPE_CHECKING:
    # Models: importable only once the apps are loaded.
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger(__name__)

_sessions = Rows(Session, ("session_key", "="), ("expire_date", ">"))
_users = Rows(User, ("id", "="))

LOGINS_MAX = 20_000  # sessions a worker keeps at most
# A mark outlives every entry cached before it by this much (clocks, slow commits).
MARK_MARGIN = 60


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _session_user(session: "SessionBase") -> "AbstractBaseUser | AnonymousUser":
    """Return the user `session` logs in, or AnonymousUser.

    Django's own get_user (loads the user, checks the session's auth hash: a
    changed password logs the session out), after a quicker look that can
    only say yes: every other answer is Django's.
    """
    user = _plainly_logged_in(session)
    if user is not None:
        return user
    # get_user reads nothing of the request but its session.
    return get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]


def _plainly_logged_in(session: "SessionBase") -> "AbstractBaseUser | None":
    """Return the user of a session Django's ModelBackend logged in, when
    get_user would return it as is: the user exists and is active, and the
    session's auth hash matches the current password under the current secret
    key. None in every other case (no login, another backend, a hash to check
    against the fallback keys, a user gone or inactive), for get_user to decide.

    The user is read with one plain query (realtime.db.Rows): on a crowd
    joining, the ORM's query building in get_user cost more than the read.
    """
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
    user = _users.first(user_id)
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    return user


class SessionStore(DatabaseSessionStore):
    """Django's database session, read with one plain query instead of the
    ORM's (the same row, the same expiry test, the same decoding: the class
    keeps Django's name, which salts the session data's signature)."""

    def _get_session_from_db(self):
        row = _sessions.first(self.session_key, timezone.now())
        if row is None:
            self._session_key = None  # as Django's does: a fresh session, not this key
        return row


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


@db_call
def _load_login(session_key: str | None, session_store) -> tuple[Any, Any, float]:
    session = session_store(session_key)
    user = _session_user(session)
    seconds = _cache_seconds(session) if user.is_authenticated else 0.0
    return session, user, seconds


class SessionAuthMiddleware:
    """Set scope["session"] and scope["user"] (AnonymousUser when not logged in)."""

    def __init__(self, application) -> None:
        self.application = application
        self.session_store = _session_store(settings.SESSION_ENGINE)

    async def __call__(self, scope, receive, send):
        cookies = _cookies(scope)
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        session, user = await self.login(session_key)
        scope = {**scope, "cookies": cookies, "session": session, "user": user}
        return await self.application(scope, receive, send)

    async def login(self, session_key: str | None) -> tuple[Any, Any]:
        if not session_key:
            session, user, _ = await _load_login(session_key, self.session_store)
            return session, user
        cached = logins.get(session_key)
        if cached is not None:
            if await _still_unmarked(session_key, cached.user.pk):
                return cached.session, cached.user
            logins.forget(session_key)
        # A user's sockets open together (a page's room and bell): the first
        # reads the database, the others wait for its answer.
        loading = _loading.get(session_key)
        if loading is None or loading.get_loop() is not asyncio.get_running_loop():
            loading = _loading[session_key] = asyncio.ensure_future(
                _load_and_keep(session_key, self.session_store)
            )
            loading.add_done_callback(lambda _: _loading.pop(session_key, None))
        return await asyncio.shield(loading)


# Session key -> the database read in progress for it (one per session at a time).
_loading: dict[str, asyncio.Future] = {}


async def _load_and_keep(session_key: str, session_store) -> tuple[Any, Any]:
    session, user, seconds = await _load_login(session_key, session_store)
    if seconds > 0 and session.session_key:
        logins.put(session.session_key, session, user, seconds)
    return session, user


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
    """_login_user_id of each session, one after the other in one call."""
    return {key: _logged_in_id(key) for key in session_keys}


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
