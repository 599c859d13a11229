"""The session handling every socket kind shares: login, frame parsing and
limits, idle timeout, and closing when the login ends."""

import asyncio
import json
import logging
import random
import time
from collections import deque
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from . import auth, fastsend, metrics, recovery, registry
from .groups import session_group, user_group

logger = logging.getLogger(__name__)

# Close codes of the wire contract (docs/protocol.md).
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_IDLE = 4408
CLOSE_TOO_LARGE = 4413
CLOSE_FLOODING = 4429  # also: over the cap of open sockets per user
CLOSE_UNAVAILABLE = 4503  # live delivery can't be set up now (Redis away): retry

ID_MAX = 2**63 - 1  # the largest seq or id a client may name
INBOX_MAX = 10_000  # events a consumer may have waiting for its own task


def dumps(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class FrameError(Exception):
    """A client frame the contract answers with an `error` frame."""

    def __init__(self, code: str, detail: str, client_id: str | None = None, **extra) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id
        self.extra = extra  # more fields for the error frame (retry_after)


class RealtimeConsumer(AsyncWebsocketConsumer):
    """Base for the app's sockets.

    Subclasses set `frame_handlers` (client frame type -> method name) and
    implement `start()`; they never see a frame that is not a JSON object with a
    known string `type`. Client frames are parsed here and never dispatched as
    channel-layer events, so a client can't reach an internal handler.

    Channel-layer events come in two kinds. `event_forwarders` maps an event
    type to a plain method that returns the text to forward (or None):
    it can't wait on anything, so our layer calls it right in its receive loop
    (realtime.layers). Every other event handler is async and runs in this
    consumer's own task, in order, after any event still waiting there: a
    handler that waits on the database or Redis delays this socket alone.
    """

    frame_handlers: dict[str, str] = {}
    event_forwarders: dict[str, str] = {}
    kind = "socket"  # the metrics label

    # Set before connect() so that disconnect() and release() can always run,
    # whatever stage a socket reached.
    user = None
    channel_name: str | None = None  # set by Channels once the layer gave one
    connect_started: float | None = None
    ready = False
    accepted = False
    counted = False
    released = False
    sockets_group: str | None = None
    ws_protocol = None
    _idle_timer: asyncio.TimerHandle | None = None
    _session_timer: asyncio.TimerHandle | None = None
    _drainer: asyncio.Task | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups_joined: list[str] = []
        # Events waiting for this consumer's own task (or for hello to go out).
        self._inbox: deque[dict] = deque()
        # Action -> refusal in force on this socket (realtime.ratelimit.admit).
        self.rate_holds: dict = {}

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError):
            if self.connect_started is not None:
                raise
            # Channels subscribes the socket's own channel before anything
            # else; with Redis away that fails before connect() could refuse.
            logger.warning("socket refused: the channel layer's redis is away")
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_UNAVAILABLE})
        finally:
            # Whatever ended this consumer (a close, an exception in a handler,
            # Daphne's application timeout cancelling it), its registrations
            # in Redis and in this process go with it.
            await asyncio.shield(self.release())

    async def dispatch(self, message):
        # Channels runs aclose_old_connections() through a thread hop before
        # every event; our handlers touch the database only through
        # realtime.db.db_call, which closes stale connections itself.
        event_type = message["type"]
        forwarder = self.event_forwarders.get(event_type)
        if forwarder is not None:
            if self.ready:
                text = getattr(self, forwarder)(message)
                if text is not None:
                    await self.send(text_data=text)
            return
        handler = getattr(self, event_type.replace(".", "_"), None)
        if handler is None:
            # Sockets of several kinds share groups (user.<id>); an event meant
            # for another kind is not an error.
            logger.debug("%s ignores %s", type(self).__name__, event_type)
            return
        await handler(message)

    async def connect(self) -> None:
        self.connect_started = time.monotonic()
        self.ws_protocol = fastsend.protocol_of(self.base_send)
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(CLOSE_NOT_LOGGED_IN)
            return
        # Every socket of the user, on every worker, counts towards the cap.
        self.sockets_group = f"sockets.{user_group(self.user.pk)}"
        sockets = await registry.track(self.sockets_group, self.channel_name, self.user, self)
        if sockets > settings.REALTIME_MAX_SOCKETS_PER_USER:
            await self.refuse(CLOSE_FLOODING)
            return
        try:
            await self.join_group(user_group(self.user.pk))
            session = self.scope.get("session")
            if session is not None and session.session_key:
                await self.join_group(session_group(session.session_key))
            recovery.register(self)
            self.last_seen = time.monotonic()
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(settings.REALTIME_IDLE_TIMEOUT, self._check_idle)
            self._session_timer = loop.call_later(
                settings.REALTIME_SESSION_RECHECK * random.uniform(0.5, 1.0),
                self._recheck_session,
            )
            await self.start()
        except (RedisError, OSError):
            # A subscription that failed is not retried by anyone: a socket
            # opened now would never hear a live event. The client comes back.
            logger.warning("socket refused: the channel layer's redis is away")
            self.ready = False
            if self.accepted:
                await self.close(code=CLOSE_UNAVAILABLE)
            else:
                await self.refuse(CLOSE_UNAVAILABLE)

    async def start(self) -> None:
        raise NotImplementedError

    def log_fields(self) -> dict:
        """Ids that say which socket a log line is about (never user text)."""
        return {}

    def after_param(self) -> tuple[int | None, bool]:
        """Return (`?after=` as a number or None, whether one was given)."""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("after") or [""])[0]
        # A bound on the digits before int(): Python refuses over 4,300.
        if raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= ID_MAX:
            return int(raw), True
        return None, bool(raw)

    async def resync(self) -> None:
        """Catch up on what the channel layer lost while Redis was away;
        subclasses that forward stored data override it."""

    def request_resync(self) -> None:
        """Resync in this consumer's own task, after the events before it
        (realtime.recovery calls this once the subscriptions are live again)."""
        self.deliver({"type": "realtime.resync"})

    async def realtime_resync(self, event: dict) -> None:
        if self.ready:
            await self.resync()

    async def refuse(self, code: int) -> None:
        """Accept, send nothing, close with `code`: the contract's refusal."""
        user_id = getattr(self.scope.get("user"), "pk", None)
        logger.info(
            "socket refused",
            extra={"event": "refuse", "kind": self.kind, "code": code, "user_id": user_id},
        )
        await self.accept()
        await self.close(code=code)

    async def accept(self, subprotocol=None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def join_group(self, group: str) -> None:
        if not self.groups_joined:
            register = getattr(self.channel_layer, "register_direct", None)
            if register is not None:
                register(self.channel_name, self.deliver)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def leave_group(self, group: str) -> None:
        self.groups_joined.remove(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    def deliver(self, event: dict) -> None:
        """Take a group event from our layer; never waits (realtime.layers).

        An event with a forwarder is sent at once when that keeps the order
        (ready, nothing waiting, Daphne's protocol at hand to write to);
        everything else waits its turn in this consumer's own task.
        """
        if self.released:
            return
        if self.ready and self._drainer is None and not self._inbox:
            forwarder = self.event_forwarders.get(event["type"])
            if forwarder is not None and self.ws_protocol is not None:
                text = getattr(self, forwarder)(event)
                if text is not None:
                    self.write_now(text, event)
                return
        if len(self._inbox) >= INBOX_MAX:
            # A socket this far behind resumes by seq faster than it catches up.
            logger.warning("a socket fell %d events behind: closing it", len(self._inbox))
            self._inbox.clear()
            self.ready = False
            self._spawn_close(CLOSE_IDLE)
            return
        self._inbox.append(event)
        if self.ready and self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._inbox and not self.released:
                event = self._inbox.popleft()
                try:
                    await self.dispatch(event)
                except Exception:
                    logger.exception("%s failed on %s", type(self).__name__, event.get("type"))
        finally:
            self._drainer = None

    def write_now(self, text: str, event: dict) -> None:
        """Write a forwarded frame to Daphne's protocol now; the event's own
        `text`, which every local socket sends, is framed once per worker."""
        if text is event.get("text"):
            fastsend.send_prepared(self.ws_protocol, text, event)
        elif self.ws_protocol.state == self.ws_protocol.STATE_OPEN:
            self.ws_protocol.sendMessage(text.encode(), False)

    async def mark_ready(self) -> None:
        """Start forwarding events (after hello), those that came meanwhile first."""
        self.ready = True
        self.counted = True
        metrics.sockets_open.labels(self.kind, metrics.WORKER).inc()
        metrics.handshake_seconds.labels(self.kind, metrics.WORKER).observe(
            time.monotonic() - self.connect_started
        )
        logger.info(
            "socket open",
            extra={
                "event": "connect",
                "kind": self.kind,
                "user_id": self.user.pk,
                **self.log_fields(),
            },
        )
        if self._inbox and self._drainer is None:
            # Arrived before hello went out: played after it, the client drops
            # what hello already had.
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def disconnect(self, code) -> None:
        await self.release()

    async def release(self) -> None:
        """Undo every registration of this socket, once; safe at any stage."""
        if self.released:
            return
        self.released = True
        self.ready = False
        recovery.unregister(self)
        if self.counted:
            self.counted = False
            metrics.sockets_open.labels(self.kind, metrics.WORKER).dec()
        self._inbox.clear()
        if self._drainer is not None and self._drainer is not asyncio.current_task():
            self._drainer.cancel()
        for timer in (self._idle_timer, self._session_timer):
            if timer is not None:
                timer.cancel()
        try:
            await self.release_more()
        except Exception:
            logger.warning("%s release failed", type(self).__name__, exc_info=True)
        if self.sockets_group is not None:
            await registry.untrack(self.sockets_group, self.channel_name, self.user)
        for group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                # Group memberships are in this process; the layer drops a
                # subscription nobody wants when Redis is back (realtime.layers).
                logger.warning("group_discard failed for %s", group, exc_info=True)
        self.groups_joined = []
        forget = getattr(self.channel_layer, "forget_channel", None)
        if forget is not None and self.channel_name is not None:
            try:
                await forget(self.channel_name)
            except Exception:
                # Redis away: the layer drops the subscription when it is back.
                logger.warning("forgetting channel failed", exc_info=True)

    async def release_more(self) -> None:
        """What a subclass registered beyond the base's (room presence)."""

    def _spawn_close(self, code: int) -> None:
        self._closing = asyncio.ensure_future(self.close(code=code))

    def _check_idle(self) -> None:
        idle = time.monotonic() - self.last_seen
        if idle >= settings.REALTIME_IDLE_TIMEOUT:
            self._spawn_close(CLOSE_IDLE)
        else:
            self._idle_timer = asyncio.get_running_loop().call_later(
                settings.REALTIME_IDLE_TIMEOUT - idle, self._check_idle
            )

    def _recheck_session(self) -> None:
        """Sessions can end without the logout view (expiry, deletion on the
        server): look again now and then, in this consumer's own task."""
        if self.released:
            return
        self.deliver({"type": "realtime.session_check"})
        self._session_timer = asyncio.get_running_loop().call_later(
            settings.REALTIME_SESSION_RECHECK, self._recheck_session
        )

    async def realtime_session_check(self, event: dict) -> None:
        if self.ready and not await self.login_still_valid():
            await self.realtime_session_ended(event)

    async def login_still_valid(self) -> bool:
        return await auth.login_still_valid(self.scope.get("session"), self.user)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        self.last_seen = time.monotonic()
        if not self.ready:
            return
        size = (
            len(text_data.encode(errors="replace"))
            if text_data is not None
            else len(bytes_data or b"")
        )
        if size > settings.REALTIME_MAX_FRAME_BYTES:
            metrics.frames_refused.labels("too_large", metrics.WORKER).inc()
            await self.close(code=CLOSE_TOO_LARGE)
            return
        frame: dict = {}
        try:
            frame = self.parse_frame(text_data)
            handler = getattr(self, self.frame_handlers[frame["type"]])
            await handler(frame)
        except FrameError as error:
            metrics.frames_refused.labels(error.code, metrics.WORKER).inc()
            await self.send_error(error.code, error.detail, error.client_id, **error.extra)
        except Exception:
            # A bug or a failure on our side: say so and keep the socket open.
            # Services write in one transaction, so nothing half-done is stored.
            logger.exception("%s failed on a %r frame", type(self).__name__, frame.get("type"))
            metrics.frames_refused.labels("server_error", metrics.WORKER).inc()
            if self.ready:
                await self.send_error(
                    "server_error",
                    "The server could not handle this frame; nothing was changed. Try again.",
                    client_id_of(frame),
                )

    def parse_frame(self, text_data: str | None) -> dict:
        if text_data is None:
            raise FrameError("invalid", "Frames are JSON text, not binary.")
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            raise FrameError("invalid", "A frame must be JSON.") from None
        if not isinstance(frame, dict):
            raise FrameError("invalid", "A frame must be a JSON object.")
        try:
            # JSON may spell lone UTF-16 surrogates ("\ud800"), which no
            # UTF-8 text (a frame, a database row) can hold.
            dumps(frame).encode()
        except UnicodeEncodeError:
            raise FrameError("invalid", "A frame must be valid Unicode text.") from None
        frame_type = frame.get("type")
        if not isinstance(frame_type, str) or frame_type not in self.frame_handlers:
            raise FrameError("invalid", "Unknown frame type.", client_id_of(frame))
        return frame

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=dumps(frame))

    async def send_error(
        self, code: str, detail: str, client_id: str | None = None, **extra
    ) -> None:
        frame = {"type": "error", "code": code, "detail": detail, **extra}
        if client_id is not None:
            frame["client_id"] = client_id
        await self.send_frame(frame)

    async def on_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})

    # Channel-layer events.

    async def realtime_session_ended(self, event: dict) -> None:
        self.ready = False
        await self.close(code=CLOSE_NOT_LOGGED_IN)


def client_id_of(frame: dict) -> str | None:
    """Return the frame's client_id when it is one we could echo back."""
    client_id = frame.get("client_id")
    if isinstance(client_id, str) and 1 <= len(client_id) <= 64:
        return client_id
    return None
