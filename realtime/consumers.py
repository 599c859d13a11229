"""The session handling every socket kind shares: login, frame parsing and
limits, idle timeout, and closing when the login ends."""

import asyncio
import json
import logging
import time

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from . import fastsend, metrics, presence, recovery
from .groups import session_group, user_group

logger = logging.getLogger(__name__)

# Close codes of the wire contract (docs/protocol.md).
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_IDLE = 4408
CLOSE_TOO_LARGE = 4413
CLOSE_FLOODING = 4429  # also: over the cap of open sockets per user


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
    """

    frame_handlers: dict[str, str] = {}
    kind = "socket"  # the metrics label

    async def dispatch(self, message):
        # Channels runs aclose_old_connections() through a thread hop before
        # every event; our handlers touch the database only through
        # realtime.db.db_call, which closes stale connections itself.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            # Sockets of several kinds share groups (user.<id>); an event meant
            # for another kind is not an error.
            logger.debug("%s ignores %s", type(self).__name__, message["type"])
            return
        await handler(message)

    async def connect(self) -> None:
        self.connect_started = time.monotonic()
        self.ws_protocol = fastsend.protocol_of(self.base_send)
        self.counted = False
        self.user = self.scope.get("user")
        self.groups_joined: list[str] = []
        self.ready = False
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(CLOSE_NOT_LOGGED_IN)
            return
        # Every socket of the user, on every worker, counts towards the cap.
        self.sockets_group = f"sockets.{user_group(self.user.pk)}"
        sockets = await presence.track(self.sockets_group, self.channel_name, self.user)
        if sockets > settings.REALTIME_MAX_SOCKETS_PER_USER:
            await self.refuse(CLOSE_FLOODING)
            return
        await self.join_group(user_group(self.user.pk))
        session = self.scope.get("session")
        if session is not None and session.session_key:
            await self.join_group(session_group(session.session_key))
        recovery.register(self)
        self.last_seen = time.monotonic()
        self._idle_timer = asyncio.get_running_loop().call_later(
            settings.CHAT_IDLE_TIMEOUT, self._check_idle
        )
        await self.start()

    async def start(self) -> None:
        raise NotImplementedError

    def log_fields(self) -> dict:
        """Ids that say which socket a log line is about (never user text)."""
        return {}

    async def resync(self) -> None:
        """Catch up on what the channel layer lost while Redis was away
        (realtime.recovery calls it); subclasses that forward stored data override it."""

    async def refuse(self, code: int) -> None:
        """Accept, send nothing, close with `code`: the contract's refusal."""
        user_id = getattr(self.scope.get("user"), "pk", None)
        logger.info(
            "socket refused",
            extra={"event": "refuse", "kind": self.kind, "code": code, "user_id": user_id},
        )
        await self.accept()
        await self.close(code=code)

    async def join_group(self, group: str) -> None:
        if not self.groups_joined:
            self._register_direct()
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    def _register_direct(self) -> None:
        """Let the layer call this consumer directly for group events
        (realtime.layers); other layers queue them as usual."""
        register = getattr(self.channel_layer, "register_direct", None)
        if register is not None:
            self._early_events: list[dict] | None = []
            register(self.channel_name, self._direct_event)

    async def _direct_event(self, event: dict) -> None:
        if self.ready:
            await self.dispatch(event)
        elif self._early_events is not None and len(self._early_events) < 10_000:
            # Arrived before hello went out: played after it, the client drops
            # what hello already had.
            self._early_events.append(event)

    async def mark_ready(self) -> None:
        """Start forwarding events (after hello)."""
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
        early, self._early_events = getattr(self, "_early_events", None), None
        for event in early or ():
            if self.ready:
                await self.dispatch(event)

    async def disconnect(self, code) -> None:
        recovery.unregister(self)
        if getattr(self, "counted", False):
            self.counted = False
            metrics.sockets_open.labels(self.kind, metrics.WORKER).dec()
        self._early_events = None
        unregister = getattr(self.channel_layer, "unregister_direct", None)
        if unregister is not None:
            unregister(self.channel_name)
        timer = getattr(self, "_idle_timer", None)
        if timer is not None:
            timer.cancel()
        self.ready = False
        sockets_group = getattr(self, "sockets_group", None)
        if sockets_group is not None:
            await presence.untrack(sockets_group, self.channel_name, self.user)
        for group in getattr(self, "groups_joined", []):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                # Group memberships expire on their own (group_expiry).
                logger.warning("group_discard failed for %s", group, exc_info=True)

    def _check_idle(self) -> None:
        idle = time.monotonic() - self.last_seen
        if idle >= settings.CHAT_IDLE_TIMEOUT:
            self._closing = asyncio.ensure_future(self.close(code=CLOSE_IDLE))
        else:
            self._idle_timer = asyncio.get_running_loop().call_later(
                settings.CHAT_IDLE_TIMEOUT - idle, self._check_idle
            )

    async def receive(self, text_data=None, bytes_data=None) -> None:
        self.last_seen = time.monotonic()
        if not self.ready:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.CHAT_MAX_FRAME_BYTES:
            metrics.frames_refused.labels("too_large", metrics.WORKER).inc()
            await self.close(code=CLOSE_TOO_LARGE)
            return
        try:
            frame = self.parse_frame(text_data)
            handler = getattr(self, self.frame_handlers[frame["type"]])
            await handler(frame)
        except FrameError as error:
            metrics.frames_refused.labels(error.code, metrics.WORKER).inc()
            await self.send_error(error.code, error.detail, error.client_id, **error.extra)

    def parse_frame(self, text_data: str | None) -> dict:
        if text_data is None:
            raise FrameError("invalid", "Frames are JSON text, not binary.")
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            raise FrameError("invalid", "A frame must be JSON.") from None
        if not isinstance(frame, dict):
            raise FrameError("invalid", "A frame must be a JSON object.")
        frame_type = frame.get("type")
        if not isinstance(frame_type, str) or frame_type not in self.frame_handlers:
            raise FrameError("invalid", "Unknown frame type.", client_id_of(frame))
        return frame

    async def send_shared(self, text: str, event: dict) -> None:
        """Send text that every local socket of a group event sends: framed once
        per worker under Daphne (realtime.fastsend)."""
        protocol = self.ws_protocol
        if protocol is None:
            await self.send(text_data=text)
        else:
            fastsend.send_prepared(protocol, text, event)

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
