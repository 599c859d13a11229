"""Close connections whose HTTP request headers do not arrive in time (slowloris).

Daphne parses HTTP with Twisted's HTTPChannel, whose only clock is an idle
timeout (12 hours under Daphne) that every byte restarts. A client that sends one
header line every few seconds, or nothing at all, holds its connection and a file
descriptor for as long as it likes: with the common limit of 1,024 open files,
1,100 such connections made the whole server unreachable.

Here each request gets a total deadline, REALTIME_HEADER_TIMEOUT seconds from the
moment the connection waits for it (accepted, or the previous response done on a
kept-alive connection) until its headers are complete, however they trickle in.
Past it the client gets `408` and the connection is closed. A request whose
headers are complete belongs to the application (a WebSocket handshake then has
Daphne's handshake timeout). The same number is the idle timeout while a request
body is read, as nginx's `client_body_timeout`.

It is installed on Daphne's HTTP factory, the way Twisted chooses a factory's
protocol (`factory.protocol`), by `manage.py serve` before its workers accept,
and under plain `daphne config.asgi:application` by `ArmHeaderDeadline` in
config/asgi.py when the first request reaches the application (a load balancer's
health check arms it at start). Connections accepted before that are not covered.

Relies on Daphne (`Server.http_factory`, ASGI `send` being
`partial(Server.handle_reply, protocol)`) and Twisted's HTTPChannel hooks
(`connectionMade`, `allHeadersReceived`, `requestDone`, `connectionLost`,
`timeoutConnection`, `persistent`), pinned in requirements.txt and listed in
tests/realtime/test_canaries.py.
"""

import functools
import logging
from collections.abc import Awaitable

from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

from . import metrics

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)


class HeaderDeadlineChannel(http.HTTPChannel):
    """An HTTPChannel that gives each request's headers `header_timeout` seconds in all."""

    def __init__(self, header_timeout: float) -> None:
        super().__init__()
        self.header_timeout = header_timeout
        self._header_call = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._start_header_clock()

    def allHeadersReceived(self) -> None:
        self._stop_header_clock()
        super().allHeadersReceived()

    def requestDone(self, request) -> None:
        if self.persistent:
            # Started first: the next request may be buffered already, and its
            # headers stop the clock while the parent parses them.
            self._start_header_clock()
        super().requestDone(request)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_header_clock()
        super().connectionLost(reason)

    def _start_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_call = self.callLater(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_call is not None:
            if self._header_call.active():
                self._header_call.cancel()
            self._header_call = None

    def _headers_too_slow(self) -> None:
        self._header_call = None
        metrics.here(metrics.header_timeouts).inc()
        # Connected while the clock runs; mypy reads zope interfaces without `self`.
        self.transport.write(REQUEST_TIMEOUT_RESPONSE)  # type: ignore[union-attr, call-arg, misc]
        # Twisted's own timeout path: close, and abort if the close does not finish.
        self.timeoutConnection()


class _Channels:
    """`factory.protocol`: builds HeaderDeadlineChannels (and says it does)."""

    def __init__(self, header_timeout: float) -> None:
        self.header_timeout = header_timeout

    def __call__(self) -> HeaderDeadlineChannel:
        return HeaderDeadlineChannel(self.header_timeout)


def install(factory: http.HTTPFactory, header_timeout: float) -> bool:
    """Make `factory` build channels with the header deadline; return whether it does."""
    if isinstance(factory.protocol, _Channels):
        return True
    if http.H2_ENABLED:
        # The factory's default protocol negotiates HTTP/2; ours would not.
        logger.warning("HTTP/2 is enabled in Twisted: no header deadline (see docs/deployment.md)")
        return False
    # Twisted types `protocol` as its HTTP/2-negotiating wrapper; any callable that
    # builds an HTTPChannel serves (HTTP/2 is off: checked above).
    factory.protocol = _Channels(header_timeout)  # type: ignore[method-assign, assignment]
    # Twisted's idle timeout (reset by each read) now guards request bodies too.
    factory.timeOut = header_timeout
    return True


def daphne_server_of(send):
    """Return the Daphne Server behind an ASGI send callable, or None."""
    if isinstance(send, functools.partial) and getattr(send.func, "__name__", "") == "handle_reply":
        server = getattr(send.func, "__self__", None)
        if isinstance(getattr(server, "http_factory", None), http.HTTPFactory):
            return server
    return None


class ArmHeaderDeadline:
    """ASGI middleware: at the first call under Daphne, install the header
    deadline on the server's HTTP factory (anything else passes untouched).

    It returns the inner application's coroutine instead of awaiting it, so no
    coroutine of its own stays alive with every open socket
    (`_asgi_single_callable`: see realtime.origin.SameOriginValidator)."""

    _asgi_single_callable = True

    def __init__(self, application, header_timeout: float) -> None:
        self.application = application
        self.header_timeout = header_timeout
        self.armed = False

    def __call__(self, scope, receive, send) -> Awaitable[None]:
        if not self.armed:
            self.armed = True
            server = daphne_server_of(send)
            if server is not None and install(server.http_factory, self.header_timeout):
                logger.info("header deadline armed: %s s", self.header_timeout)
        return self.application(scope, receive, send)
