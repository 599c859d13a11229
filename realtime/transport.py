"""What every socket shares, whatever it streams: login, the cap on sockets per
user, the idle timeout, frame parsing and limits, error frames, closing when
the login ends, and undoing every registration however the socket ends."""

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from . import auth, fastsend, handover, incoming, metrics, recovery, registry, settled
from .delivery import DirectDelivery
from .errors import Forbidden, NotFound, Refused
from .groups import session_tag, user_group
from .heartbeat import Rounds
from .language import scope_language
from .wire import ID_MAX, Close, dumps

logger = logging.getLogger(__name__)


def close_code_for(error: Refused) -> int:
    """Return the close code that ends a socket over `error` (its room or
    stream is gone, or no longer this user's to read)."""
    return Close.NOT_FOUND if isinstance(error, NotFound) else Close.FORBIDDEN


# Pipelined frames a socket may have read and not yet begun to answer
# (_answer_later): with the one being answered, at most one more is unanswered.
IN_FLIGHT_MAX = 100

# Seconds before the one retry of a group subscription that failed (join_group).
GROUP_ADD_RETRY_DELAY = 0.2


class SocketConsumer(DirectDelivery, AsyncWebsocketConsumer):
    """Base for the app's sockets.

    Subclasses set `frame_handlers` (client frame type -> method name) and
    implement `start()`; they never see a frame that is not a JSON object with a
    known string `type`. Client frames are parsed here and never dispatched as
    channel-layer events, so a client can't reach an internal handler. A frame
    handler raises Refused to answer with an `error` frame.

    Everything `disconnect()` and `release()` read is set before `connect()`,
    so they can run whatever stage a socket reached.
    """

    frame_handlers: dict[str, str] = {}
    # Frame types answered after the next frame is read (see _answer_later).
    pipelined_frames: frozenset[str] = frozenset()
    kind = "socket"  # the metrics label

    user: Any = None
    # The user's pk, read once: a model's `pk` looks up its meta on every read,
    # and the forwarders compare it once per event and socket.
    user_id: Any = None
    # The language of this socket's text, read once at the handshake.
    language = settings.LANGUAGE_CODE
    channel_name = ""  # set once the socket runs (`run`)
    connect_started: float | None = None
    accepted = False
    counted = False
    sockets_group: str | None = None
    # The login session's name in events (realtime.groups.session_tag).
    session_tag: str | None = None
    # Pipelined frames read and not answered yet, and the task answering them.
    _in_flight: "deque[tuple[Coroutine[Any, Any, None], dict]] | None" = None
    _answerer: asyncio.Task | None = None
    watched = False  # by idle_sockets and realtime.auth.login_checks

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups_joined: list[str] = []
        self.last_seen = time.monotonic()
        # Action -> refusal in force on this socket (realtime.ratelimit.admit).
        self.rate_holds: dict = {}

    async def __call__(self, scope, receive, send):
        try:
            await self.run(scope, receive, send)
        except (RedisError, OSError):
            if self.connect_started is not None:
                raise
            # Channels subscribes the socket's own channel before anything
            # else; with Redis away that fails before connect() could refuse.
            logger.warning("socket refused: the channel layer's redis is away")
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": Close.UNAVAILABLE})
        finally:
            # Whatever ended this consumer (a close, an exception in a handler,
            # Daphne's application timeout cancelling it), its registrations
            # in Redis and in this process go with it.
            await asyncio.shield(self.release())

    async def run(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer.__call__, without what a socket on direct
        delivery never uses.

        Channels subscribes every consumer's own channel in Redis (a round trip
        at connect and at close, a subscription per socket) and keeps a task
        waiting on it besides the one reading the client, through
        await_many_dispatch (two tasks and a wait per socket, for as long as it
        is open). Nothing is ever sent to a socket's own channel here: group
        events reach it through `deliver()` (realtime.layers), so it takes a
        unique name the layer's groups know it by, and one task reads the
        client. A layer without direct delivery gets Channels' own way.
        """
        layer = get_channel_layer(self.channel_layer_alias)
        if layer is None or not hasattr(layer, "register_direct"):
            await super().__call__(scope, receive, send)
            return
        self.channel_layer = layer
        self.scope = scope
        self.channel_name = f"socket.{uuid.uuid4().hex}"
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def connect(self) -> None:
        self.connect_started = time.monotonic()
        self.ws_protocol = fastsend.protocol_of(self.base_send)
        if self.ws_protocol is not None:
            metrics.here(metrics.fast_path_sockets).inc()
            handover.release_http_channel(self.ws_protocol)
            incoming.read_frames(self.ws_protocol)
            settled.settle_factory(self.ws_protocol)
        self.user = self.scope.get("user")
        self.language = scope_language(self.scope)
        # For this socket's task, once: connect, every frame handler and the
        # database calls they make (which copy the task's context) all run in
        # it, so every text they produce (error details) is in this language,
        # at no cost per frame.
        translation.activate(self.language)
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(Close.NOT_LOGGED_IN)
            return
        self.user_id = self.user.pk
        # Every socket of the user, on every worker, counts towards the cap.
        self.sockets_group = registry.user_sockets_group(self.user_id)
        sockets = await registry.track(self.sockets_group, self.channel_name, self.user, self)
        if sockets > settings.REALTIME_MAX_SOCKETS_PER_USER:
            await self.refuse(Close.FLOODING)
            return
        try:
            # Its user's group also says when its own login session ends.
            await self.join_group(user_group(self.user.pk))
            session = self.scope.get("session")
            if session is not None and session.session_key:
                self.session_tag = session_tag(session.session_key)
            recovery.register(self)
            self.last_seen = time.monotonic()
            # Its silence and its login looked at now and then, with the worker's others.
            idle_sockets.watch(self, None)
            session_key = getattr(session, "session_key", None)
            auth.login_checks.watch(self, (session_key, self.user_id))
            self.watched = True
            await self.start()
        except (RedisError, OSError):
            # A subscription that failed is not retried by anyone: a socket
            # opened now would never hear a live event. The client comes back.
            logger.warning("socket refused: the channel layer's redis is away")
            await self.end(Close.UNAVAILABLE)

    async def start(self) -> None:
        raise NotImplementedError

    def log_fields(self) -> dict:
        """Ids that say which socket a log line is about (never user text)."""
        return {}

    async def refuse(self, code: int) -> None:
        """Accept, send nothing, close with `code`: the contract's refusal."""
        user_id = getattr(self.scope.get("user"), "pk", None)
        logger.info(
            "socket refused",
            extra={"event": "refuse", "kind": self.kind, "code": code, "user_id": user_id},
        )
        await self.accept()
        await self.close(code=code)

    async def end(self, code: int) -> None:
        """Stop forwarding and close with `code` (a refusal if not accepted yet)."""
        self.ready = False
        if self.accepted:
            await self.close(code=code)
        else:
            await self.refuse(code)

    async def accept(self, subprotocol=None, headers=None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def join_group(self, group: str) -> None:
        if not self.groups_joined:
            register = getattr(self.channel_layer, "register_direct", None)
            if register is not None:
                register(self.channel_name, self.deliver, self.deliver_many)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except (RedisError, OSError):
            # A subscribing connection the layer kept across a Redis restart
            # fails on its first use and is replaced: one more try before the
            # socket is refused (seen as 4503 on a socket opened seconds after
            # an outage). group_add is idempotent.
            await asyncio.sleep(GROUP_ADD_RETRY_DELAY)
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def leave_group(self, group: str) -> None:
        self.groups_joined.remove(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    async def mark_ready(self) -> None:
        """Start forwarding events (after hello), those that came meanwhile first."""
        self.ready = True
        self.counted = True
        metrics.here(metrics.sockets_open, self.kind).inc()
        metrics.here(metrics.handshake_seconds, self.kind).observe(
            time.monotonic() - (self.connect_started or time.monotonic())
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
        self.start_delivery()

    async def resync(self) -> None:
        """Catch up on what the channel layer lost while Redis was away
        (realtime.stream does, for sockets that forward stored data)."""

    def request_resync(self) -> None:
        """Resync in this consumer's own task, after the events before it
        (realtime.recovery calls this once the subscriptions are live again)."""
        self.deliver({"type": "realtime.resync"})

    async def realtime_resync(self, event: dict) -> None:
        if self.ready:
            await self.resync()

    def fell_behind(self) -> None:
        self.ready = False
        self._spawn_close(Close.IDLE)

    async def websocket_disconnect(self, message) -> None:
        # Channels' own also runs aclose_old_connections() through a thread hop;
        # this consumer's database calls close their connections themselves
        # (realtime.db), and it joins no `groups` of Channels' own.
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code) -> None:
        await self.release()

    async def release(self) -> None:
        """Undo every registration of this socket, once; safe at any stage."""
        if self.released:
            return
        self.released = True
        self.ready = False
        if self.ws_protocol is not None:
            # Its closed connection, freed without the collector (realtime.handover).
            handover.release_closed(self.ws_protocol)
        recovery.unregister(self)
        if self.counted:
            self.counted = False
            metrics.here(metrics.sockets_open, self.kind).dec()
        self.stop_delivery()
        self._drop_in_flight()
        if self.watched:
            self.watched = False
            idle_sockets.unwatch(self)
            auth.login_checks.unwatch(self)
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
        if forget is not None and self.channel_name:
            try:
                await forget(self.channel_name)
            except Exception:
                # Redis away: the layer drops the subscription when it is back.
                logger.warning("forgetting channel failed", exc_info=True)

    async def release_more(self) -> None:
        """What a subclass registered beyond the base's (room presence)."""

    def _spawn_close(self, code: int) -> None:
        self._closing = asyncio.ensure_future(self.close(code=code))

    # Login: checked at connect (realtime.auth), ended by realtime.events, and
    # looked at again now and then for endings nobody announced
    # (realtime.auth.login_checks).

    async def login_still_valid(self) -> bool:
        return await auth.login_still_valid(self.scope.get("session"), self.user)

    async def realtime_session_ended(self, event: dict) -> None:
        """Every login of the user ended, or this socket's own session did
        (another session of the same user is not this socket's concern)."""
        session = event.get("session")
        if session is not None and session != self.session_tag:
            return
        await self.end(Close.NOT_LOGGED_IN)

    # Client frames.

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
            metrics.here(metrics.frames_refused, "too_large").inc()
            await self.close(code=Close.TOO_LARGE)
            return
        frame: dict = {}
        try:
            frame = self.parse_frame(text_data)
            if self._answerer is not None and frame["type"] not in self.pipelined_frames:
                await self.in_flight_answered()
            rest = await getattr(self, self.frame_handlers[frame["type"]])(frame)
            if rest is not None:
                await self._answer_later(rest, frame)
        except Exception as error:
            # An answer never overtakes the answers to frames sent before it.
            await self.in_flight_answered()
            await self.frame_failed(error, frame)

    async def frame_failed(self, error: Exception, frame: dict) -> None:
        """Answer a frame whose handler raised `error`."""
        if isinstance(error, Refused):
            metrics.here(metrics.frames_refused, error.code).inc()
            await self.send_frame(error.frame(client_id_of(frame)))
            return
        # A bug or a failure on our side: say so and keep the socket open.
        # Services write in one transaction, so nothing half-done is stored.
        logger.error(
            "%s failed on a %r frame",
            type(self).__name__,
            frame.get("type"),
            exc_info=(type(error), error, error.__traceback__),
        )
        metrics.here(metrics.frames_refused, "server_error").inc()
        if self.ready:
            await self.send_error(
                "server_error",
                _("The server could not handle this frame; nothing was changed. Try again."),
                client_id_of(frame),
            )

    # Pipelined frames: a handler of a type in `pipelined_frames` may return
    # the rest of its work (a chat send waiting for its batch to commit) as a
    # coroutine. The socket reads its next frame meanwhile, the rests run one
    # after another in the order of their frames, and a frame of any other type
    # is handled once they are done, so a client's answers come in the order it
    # sent its frames, as if each had been handled alone.

    async def _answer_later(self, rest: Coroutine[Any, Any, None], frame: dict) -> None:
        in_flight = self._in_flight
        if in_flight is None:
            in_flight = self._in_flight = deque()
        in_flight.append((rest, frame))
        if self._answerer is None or self._answerer.done():
            self._answerer = asyncio.get_running_loop().create_task(self._answer_in_order())
        if len(in_flight) >= IN_FLIGHT_MAX:
            # A client far ahead of the database waits, as without pipelining.
            await self.in_flight_answered()

    async def in_flight_answered(self) -> None:
        """Wait until every pipelined frame read so far is answered."""
        while (answerer := self._answerer) is not None and not answerer.done():
            await asyncio.wait({answerer})

    async def _answer_in_order(self) -> None:
        try:
            while (in_flight := self._in_flight) and not self.released:
                rest, frame = in_flight.popleft()
                try:
                    await rest
                except Exception as error:
                    await self._answer_failure(error, frame)
        finally:
            self._answerer = None

    async def _answer_failure(self, error: Exception, frame: dict) -> None:
        """frame_failed, in the answering task: a failure to answer (the socket
        gone mid-write) must not leave the frames behind it unanswered, nor
        end the task with an error nobody reads."""
        try:
            await self.frame_failed(error, frame)
        except Exception:
            logger.warning("answering a failed %r frame failed", frame.get("type"), exc_info=True)

    def _drop_in_flight(self) -> None:
        """Forget the answers of a socket that closed (what they store is stored)."""
        if self._answerer is not None and self._answerer is not asyncio.current_task():
            self._answerer.cancel()
        while self._in_flight:
            rest, _frame = self._in_flight.popleft()
            rest.close()  # never started: nothing to undo

    def parse_frame(self, text_data: str | None) -> dict:
        if text_data is None:
            raise Refused(_("Frames are JSON text, not binary."))
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            raise Refused(_("A frame must be JSON.")) from None
        if not isinstance(frame, dict):
            raise Refused(_("A frame must be a JSON object."))
        try:
            # No UTF-8 text (a frame, a database row) can hold a lone UTF-16
            # surrogate. JSON may spell one ("\ud800"): only a frame with an
            # escape is encoded again whole (for every frame, that was 5.5 of
            # the 9.3 us a send frame's parse took); text that came otherwise
            # than over a WebSocket (which carries UTF-8) may hold one as it is.
            text_data.encode()
            if "\\u" in text_data:
                dumps(frame).encode()
        except UnicodeEncodeError:
            raise Refused(_("A frame must be valid Unicode text.")) from None
        frame_type = frame.get("type")
        if not isinstance(frame_type, str) or frame_type not in self.frame_handlers:
            raise Refused(_("Unknown frame type."), client_id=client_id_of(frame))
        return frame

    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=dumps(frame))

    async def send_error(
        self, code: str, detail: str, client_id: str | None = None, **extra: Any
    ) -> None:
        await self.send_frame(Refused(detail, code=code, **extra).frame(client_id))

    async def on_ping(self, frame: dict) -> None:
        await self.send_frame({"type": "pong"})

    async def lost_access(self, error: Refused) -> None:
        """Close over a room or stream this user can no longer read."""
        if isinstance(error, Forbidden):
            metrics.here(metrics.frames_refused, "forbidden").inc()
        await self.end(close_code_for(error))


def client_id_of(frame: dict) -> str | None:
    """Return the frame's client_id when it is one we could echo back."""
    client_id = frame.get("client_id")
    if isinstance(client_id, str) and 1 <= len(client_id) <= 64:
        return client_id
    return None


def whole_number(value: Any, *, minimum: int = 0) -> int | None:
    """Return `value` if it is a JSON whole number in [minimum, ID_MAX], else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= ID_MAX:
        return None
    return value


class IdleSockets(Rounds[None]):
    """A worker's open sockets, looked at every sixth of REALTIME_IDLE_TIMEOUT:
    one silent for the timeout (no frame, not even a ping) is closed with 4408,
    within a sixth of it more."""

    def __init__(self) -> None:
        super().__init__("idle sockets", self.close_silent, every=_idle_round)

    async def close_silent(self) -> None:
        silent_since = time.monotonic() - settings.REALTIME_IDLE_TIMEOUT
        for socket in [s for s in self.sockets if s.last_seen <= silent_since]:
            self.unwatch(socket)
            socket._spawn_close(Close.IDLE)


def _idle_round() -> float:
    return settings.REALTIME_IDLE_TIMEOUT / 6


idle_sockets = IdleSockets()
