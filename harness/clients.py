"""Clients that talk to real worker processes as a browser would: an HTTP session
that logs in through the login form (CSRF token, Referer, Origin), and WebSocket
clients (the `websockets` package) that send the session cookie and the site's
Origin, check what they receive by `seq` (or notification id), resume with
`?after=`, fill gaps with `history` and resend unacknowledged messages.

Times are `time.monotonic()` seconds of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import itertools
import json
import random
import re
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message as Headers

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# A message body may carry the monotonic time it was sent at, for latencies.
_SENT_AT = re.compile(r"\bt=(\d+\.\d+)\b")

# Close codes after which trying again can't help.
FINAL_CLOSE_CODES = {4401, 4403, 4404, 4413, 4429}
GOING_AWAY = 1001


class LoginFailed(AssertionError):
    pass


# --- HTTP -------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Headers
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to the caller, who checks where they point."""

    def redirect_request(self, *args, **kwargs):
        return None


class HttpSession:
    """One browser's cookies on the site at `base_url` (http://127.0.0.1:PORT)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # loopback only, whatever the environment says
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect,
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    @property
    def session_cookie(self) -> str:
        value = self.cookie(SESSION_COOKIE)
        if not value:
            raise LoginFailed("not logged in: no session cookie")
        return value

    def request(
        self,
        method: str,
        path: str,
        data: dict | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Response:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 (always our own http://127.0.0.1 worker)
            self.base_url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Response(response.status, response.headers, _text(response.read()))
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, _text(error.read()))

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, data: dict, *, page: str | None = None) -> Response:
        """POST a form as the browser does from `page` (default: `path`): the CSRF
        token from the cookie, and this site's Origin and Referer."""
        token = self.cookie(CSRF_COOKIE)
        if token is None:
            self.get(page or path)
            token = self.cookie(CSRF_COOKIE)
        headers = {
            "Origin": self.base_url,
            "Referer": self.base_url + (page or path),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return self.request("POST", path, {**data, "csrfmiddlewaretoken": token}, headers)

    def login(self, username: str, password: str) -> HttpSession:
        """Log in through /accounts/login/ like a browser; raise LoginFailed if refused."""
        page = self.get("/accounts/login/")
        match = _CSRF_INPUT.search(page.body)
        if page.status != 200 or match is None:
            raise LoginFailed(f"login page: {page.status}, no CSRF token")
        response = self.request(
            "POST",
            "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": match[1]},
            {
                "Origin": self.base_url,
                "Referer": f"{self.base_url}/accounts/login/",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        if response.status != 302 or not self.cookie(SESSION_COOKIE):
            raise LoginFailed(f"login as {username}: {response.status} {response.body[:300]!r}")
        return self

    def create_room(self, name: str, *, private: bool = False) -> str:
        """Create a room through the room list's form; return its slug."""
        data = {"name": name, **({"private": "on"} if private else {})}
        response = self.post_form("/chat/new/", data, page="/chat/")
        match = re.fullmatch(r"/chat/([\w-]+)/", response.location)
        if response.status != 302 or match is None:
            raise AssertionError(f"room not created: {response.status} {response.location!r}")
        return match[1]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def login(base_url: str, username: str, password: str) -> HttpSession:
    return HttpSession(base_url).login(username, password)


def ws_base(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


# --- WebSockets -------------------------------------------------------------


@dataclass
class Close:
    code: int | None
    reason: str
    at: float
    url: str


class Socket:
    """A WebSocket to the app that reconnects by itself.

    Connects to `urls[i]` (worker base URLs, http://...) with the session cookie
    and the worker's own Origin; on a drop it reconnects to the same worker, and
    after a refused connection or a 1001 (going away) to the next one. Subclasses
    say which path to open (with the resume point) and handle frames.
    """

    kind = "socket"

    def __init__(
        self,
        name: str,
        urls: list[str],
        cookie: str,
        *,
        reconnect: bool = True,
        max_queue: int = 64,
        rcvbuf: int | None = None,
        mss: int | None = None,
    ) -> None:
        self.name = name
        self.urls = list(urls)
        self.cookie = cookie
        self.reconnect = reconnect
        self.max_queue = max_queue
        self.rcvbuf = rcvbuf
        self.mss = mss
        self.ws: ClientConnection | None = None
        self.url_index = 0
        self.connections = 0  # handshakes that got a hello
        self.connect_failures = 0
        self.connect_errors: list[str] = []
        self.closes: list[Close] = []
        self.hellos: list[dict] = []
        self.paths: list[str] = []  # the path of each handshake that got a hello
        self.errors: list[dict] = []
        self.ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._hello_count = asyncio.Condition()

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"

    @property
    def url(self) -> str:
        return self.urls[self.url_index % len(self.urls)]

    def path(self) -> str:
        raise NotImplementedError

    async def start(self, timeout: float = 20) -> Socket:
        """Connect and wait for the first hello."""
        self._task = asyncio.create_task(self._run(), name=f"socket {self.name}")
        await self.wait_connected(1, timeout)
        return self

    async def wait_connected(self, connections: int, timeout: float = 20) -> None:
        """Wait until `connections` hellos have arrived (this one connected again)."""
        async with self._hello_count:
            try:
                await asyncio.wait_for(
                    self._hello_count.wait_for(
                        lambda: self.connections >= connections or self.done
                    ),
                    timeout,
                )
            except TimeoutError:
                raise AssertionError(
                    f"{self.name}: {self.connections} of {connections} connections after "
                    f"{timeout} s; closes {self.closes}, {self.connect_failures} failed connects"
                ) from None
        if self.connections < connections:
            raise AssertionError(f"{self.name} stopped: closes {self.closes}")

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def stop(self) -> None:
        """Close the socket normally and stop reconnecting."""
        self._stopping = True
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 3)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def drop(self) -> None:
        """Lose the connection abruptly (no close frame), as a network failure would."""
        if self.ws is not None:
            self.ws.transport.abort()

    def pause_reading(self) -> None:
        """Stop reading from the network: the server's bytes pile up for us."""
        self.ws.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.ws is not None:
            self.ws.transport.resume_reading()

    async def send_json(self, frame: dict) -> bool:
        """Send a frame if connected; return whether it went out."""
        ws = self.ws
        if ws is None or not self.ready.is_set():
            return False
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False
        return True

    async def _open(self) -> ClientConnection:
        url = self.url
        sock = None
        if self.rcvbuf is not None or self.mss is not None:
            # A small receive window and a network's segment size instead of
            # loopback's 64 KiB (which makes the server's kernel buffer megabytes
            # per socket): set before connecting. The kernel then holds little
            # for a client that stops reading, as on a real network.
            parts = urllib.parse.urlsplit(url)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if self.rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            if self.mss is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, self.mss)
            sock.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
            except OSError:
                sock.close()
                raise
        return await connect(
            ws_base(url) + self.path(),
            sock=sock,
            origin=Origin(url),
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.cookie}"},
            compression=None,
            proxy=None,
            open_timeout=10,
            ping_interval=None,  # the app's own idle timeout is far longer than a test
            close_timeout=3,
            max_size=4 * 2**20,
            max_queue=self.max_queue,
        )

    async def _run(self) -> None:
        try:
            await self._connect_and_read()
        finally:
            # Wake whoever waits for a connection that will not come now.
            async with self._hello_count:
                self._hello_count.notify_all()

    async def _connect_and_read(self) -> None:
        delay = 0.05
        while not self._stopping:
            url = self.url
            try:
                ws = await self._open()
            except (OSError, InvalidHandshake, TimeoutError) as error:
                self.connect_failures += 1
                self.connect_errors.append(f"{type(error).__name__}: {error}"[:200])
                self.url_index += 1  # that worker is away: try the next
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.05
            self.ws = ws
            try:
                async for raw in ws:
                    await self._dispatch(raw)
            except ConnectionClosed:
                pass
            finally:
                self.ws = None
                self.ready.clear()
            self.closes.append(Close(ws.close_code, ws.close_reason or "", time.monotonic(), url))
            code = ws.close_code
            if not self.reconnect or self._stopping or code in FINAL_CLOSE_CODES:
                break
            if code == GOING_AWAY:
                self.url_index += 1
            # Clients spread their reconnects a little, as browsers do.
            await asyncio.sleep(random.uniform(0.02, 0.2))

    async def _dispatch(self, raw) -> None:
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "hello":
            self.hellos.append(frame)
            self.paths.append(self.ws.request.path if self.ws is not None else "")
            await self.on_hello(frame)
            self.ready.set()
            async with self._hello_count:
                self.connections += 1
                self._hello_count.notify_all()
            await self.after_hello()
        elif kind == "error":
            self.errors.append(frame)
            await self.on_error(frame)
        else:
            await self.on_frame(frame)

    async def on_hello(self, frame: dict) -> None:
        pass

    async def after_hello(self) -> None:
        pass

    async def on_error(self, frame: dict) -> None:
        pass

    async def on_frame(self, frame: dict) -> None:
        pass


class RoomClient(Socket):
    """A member's socket in one room that keeps what it receives by seq.

    `received` holds each seq once (duplicates are counted, a seq seen with a
    different message id is a `conflict`); `contiguous` is the highest seq with
    nothing missing below it, which is where a reconnect resumes. With
    `fill_gaps`, a gap that lasts `gap_grace` seconds is filled with `history`.

    Sending keeps an outbox of unacknowledged client_ids: each is resent after
    a reconnect, after an error naming it, or when unanswered for `resend_after`
    seconds; the server answers a repeated client_id with the original message.
    """

    kind = "room"

    def __init__(
        self,
        name: str,
        urls: list[str],
        slug: str,
        cookie: str,
        *,
        fill_gaps: bool = True,
        gap_grace: float = 0.5,
        resend_after: float = 3.0,
        start_after: int = 0,
        plain_join: bool = False,
        **options,
    ) -> None:
        super().__init__(name, urls, cookie, **options)
        self.slug = slug
        self.plain_join = plain_join
        self.fill_gaps = fill_gaps
        self.gap_grace = gap_grace
        self.resend_after = resend_after
        self.received: dict[int, dict] = {}
        self.arrived: dict[int, tuple[float, str]] = {}  # seq -> (when, how: hello/live/history)
        self.start_after = start_after
        self.contiguous = start_after
        self._above: set[int] = set()
        self.duplicates = 0
        self.conflicts: list[tuple[dict, dict]] = []
        self.out_of_order = 0
        self.user_id: int | None = None
        self.online: list[dict] = []
        self.presence: list[tuple[float, list[dict]]] = []
        self.target: int | None = None  # a seq known to exist (to fill a missing tail)
        self.history_requests = 0
        self.history_frames: list[dict] = []
        self._history_pending_since: float | None = None
        self._gap_since: float | None = None
        self._highest_live = 0
        # Sending.
        self._numbers = itertools.count(1)
        self.outbox: dict[str, str] = {}
        self.last_sent: dict[str, float] = {}
        self.first_sent: dict[str, float] = {}
        self.sent_order: list[str] = []
        self.acked: dict[str, tuple[int, int]] = {}  # client_id -> (seq, id)
        self.ack_at: dict[str, float] = {}
        self.transmissions = 0
        self.retry_errors: dict[str, int] = {}
        self.rejected: list[dict] = []
        self._helpers: list[asyncio.Task] = []

    def path(self) -> str:
        if self.plain_join and not self.hellos:
            return f"/ws/chat/{self.slug}/"  # the latest messages, as a page opens it
        return f"/ws/chat/{self.slug}/?after={self.contiguous}"

    async def start(self, timeout: float = 20) -> RoomClient:
        await super().start(timeout)
        self._helpers = [
            asyncio.create_task(self._gap_filler(), name=f"gaps {self.name}"),
            asyncio.create_task(self._resender(), name=f"resend {self.name}"),
        ]
        return self

    async def stop(self) -> None:
        for task in self._helpers:
            task.cancel()
        for task in self._helpers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().stop()

    # Receiving.

    async def on_hello(self, frame: dict) -> None:
        self.user_id = frame["user"]["id"]
        self.online = frame["online"]
        self.presence.append((time.monotonic(), frame["online"]))
        for message in frame["messages"]:
            self._take(message, "hello")
        if frame.get("last_seq", 0) > self.contiguous:
            self.target = max(self.target or 0, frame["last_seq"])

    async def after_hello(self) -> None:
        # Whatever was not acknowledged goes again; a repeat returns the original.
        for client_id in list(self.outbox):
            await self._transmit(client_id)

    async def on_frame(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "message":
            message = frame["message"]
            if message["seq"] < self._highest_live:
                self.out_of_order += 1
            self._highest_live = max(self._highest_live, message["seq"])
            self._take(message, "live")
        elif kind == "history":
            self.history_frames.append(frame)
            for message in frame["messages"]:
                self._take(message, "history")
            self._history_pending_since = None
            if self._gap_since is not None:
                self._gap_since = time.monotonic() - self.gap_grace  # keep filling at once
        elif kind == "presence":
            self.online = frame["online"]
            self.presence.append((time.monotonic(), frame["online"]))

    async def on_error(self, frame: dict) -> None:
        client_id = frame.get("client_id")
        if client_id not in self.outbox:
            return
        code = frame.get("code", "")
        if code in {"invalid", "too_large"}:
            # The test sent something the contract refuses: never retried.
            self.rejected.append(frame)
            del self.outbox[client_id]
            return
        self.retry_errors[code] = self.retry_errors.get(code, 0) + 1
        # Try again soon (rate_limited, or any error the server may recover from).
        self.last_sent[client_id] = time.monotonic() - self.resend_after + 0.5

    def _take(self, message: dict, how: str) -> None:
        seq = message["seq"]
        known = self.received.get(seq)
        if known is not None:
            self.duplicates += 1
            if known["id"] != message["id"] or known["body"] != message["body"]:
                self.conflicts.append((known, message))
        elif seq > self.contiguous:
            self.received[seq] = message
            self.arrived[seq] = (time.monotonic(), how)
            self._above.add(seq)
            while self.contiguous + 1 in self._above:
                self.contiguous += 1
                self._above.discard(self.contiguous)
        else:
            self.duplicates += 1  # below the resume point: had it before this run
        client_id = message.get("client_id")
        mine = message["author"]["id"] == self.user_id
        if mine and (client_id in self.outbox or client_id in self.acked):
            self._ack(client_id, message)

    def _ack(self, client_id: str, message: dict) -> None:
        earlier = self.acked.get(client_id)
        if earlier is not None and earlier != (message["seq"], message["id"]):
            self.conflicts.append(({"client_id": client_id, "acked": earlier}, message))
            return
        if client_id in self.outbox:
            del self.outbox[client_id]
            self.acked[client_id] = (message["seq"], message["id"])
            self.ack_at[client_id] = time.monotonic()

    def missing(self, upto: int) -> list[int]:
        return [seq for seq in range(self.start_after + 1, upto + 1) if seq not in self.received]

    async def _gap_filler(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            if not self.fill_gaps or not self.ready.is_set():
                continue
            now = time.monotonic()
            if self._history_pending_since is not None:
                if now - self._history_pending_since < 5:
                    continue
                self._history_pending_since = None  # lost with a connection: ask again
            above = min(self._above) if self._above else None
            if above is None and (self.target is None or self.target <= self.contiguous):
                self._gap_since = None
                continue
            if self._gap_since is None:
                self._gap_since = now
                continue
            if now - self._gap_since < self.gap_grace:
                continue
            before = above if above is not None else self.target + 1
            limit = min(100, before - self.contiguous - 1)
            if await self.send_json({"type": "history", "before_seq": before, "limit": limit}):
                self.history_requests += 1
                self._history_pending_since = now

    async def wait_for_seq(self, upto: int, timeout: float) -> None:
        """Wait until every seq up to `upto` is here (filling gaps if allowed)."""
        self.target = max(self.target or 0, upto)
        deadline = time.monotonic() + timeout
        while self.contiguous < upto:
            if time.monotonic() > deadline:
                missing = self.missing(upto)
                raise AssertionError(
                    f"{self.name}: {len(missing)} of {upto} messages missing after {timeout} s "
                    f"(first {missing[:10]}); connections {self.connections}, "
                    f"closes {self.closes}"
                )
            await asyncio.sleep(0.05)

    # Sending.

    async def send(self, body: str) -> str:
        """Queue `body` under a new client_id, send it if connected; return the id."""
        client_id = f"{self.name}-{next(self._numbers)}-{secrets.token_hex(4)}"
        self.outbox[client_id] = body
        self.sent_order.append(client_id)
        self.first_sent[client_id] = time.monotonic()
        await self._transmit(client_id)
        return client_id

    async def _transmit(self, client_id: str) -> None:
        body = self.outbox.get(client_id)
        if body is None:
            return
        self.last_sent[client_id] = time.monotonic()
        frame = {"type": "send", "body": body, "client_id": client_id}
        if await self.send_json(frame):
            self.transmissions += 1

    async def _resender(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if not self.ready.is_set():
                continue
            now = time.monotonic()
            for client_id in list(self.outbox):
                if now - self.last_sent.get(client_id, 0) >= self.resend_after:
                    await self._transmit(client_id)

    async def wait_acked(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.outbox:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: {len(self.outbox)} sends unacknowledged after {timeout} s; "
                    f"errors {self.retry_errors}, closes {self.closes}"
                )
            await asyncio.sleep(0.05)
        assert not self.rejected, self.rejected


class NotificationClient(Socket):
    """The user's notification stream, kept by id (duplicates counted)."""

    kind = "notifications"

    def __init__(self, name: str, urls: list[str], cookie: str, **options) -> None:
        super().__init__(name, urls, cookie, **options)
        self.notifications: dict[int, dict] = {}
        self.order: list[int] = []
        self.duplicates = 0
        self.last_id: int | None = None
        self.unread: int | None = None

    def path(self) -> str:
        after = "" if self.last_id is None else f"?after={self.last_id}"
        return f"/ws/notifications/{after}"

    def _take(self, notification: dict) -> None:
        notification_id = notification["id"]
        if notification_id in self.notifications:
            self.duplicates += 1
            return
        self.notifications[notification_id] = notification
        self.order.append(notification_id)
        self.last_id = max(self.last_id or 0, notification_id)

    async def on_hello(self, frame: dict) -> None:
        self.unread = frame["unread"]
        if self.last_id is None:
            self.last_id = frame["last_id"]
        for notification in frame["notifications"]:
            self._take(notification)

    async def on_frame(self, frame: dict) -> None:
        if frame["type"] == "notification":
            self._take(frame["notification"])
            self.unread = frame["unread"]
        elif frame["type"] == "unread":
            self.unread = frame["count"]

    def titles(self) -> list[str]:
        return [self.notifications[i]["title"] for i in self.order]

    async def wait_for_title(self, title: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for notification in self.notifications.values():
                if notification["title"] == title:
                    return notification
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: no notification {title!r} after {timeout} s; "
                    f"has {self.titles()[-5:]}, closes {self.closes}"
                )
            await asyncio.sleep(0.05)


def sent_at(body: str) -> float | None:
    """The monotonic send time a body carries (`t=...`), if any."""
    match = _SENT_AT.search(body)
    return float(match[1]) if match else None


def stamped(text: str, pad_to: int = 0) -> str:
    """`text` with the current monotonic time, padded with filler to `pad_to` characters."""
    body = f"{text} t={time.monotonic():.6f}"
    return body + " " + "x" * max(pad_to - len(body) - 1, 0) if pad_to else body


async def stop_all(sockets) -> None:
    await asyncio.gather(*(s.stop() for s in sockets), return_exceptions=True)
