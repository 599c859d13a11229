"""One Daphne worker on an inherited listening socket, that shuts down gracefully
and drops clients that stop reading.

On SIGTERM (or SIGINT) it stops accepting, closes every WebSocket with 1001
("going away") so clients reconnect to another worker and resume, lets the
consumers run their disconnect handlers, then stops. Daphne alone would drop
the connections without a close frame.

Daphne buffers whatever the application sends, without limit, for a client that
does not read; this worker aborts a connection whose unsent bytes pass
REALTIME_MAX_SEND_BUFFER. The client comes back and resumes by seq.

Each connection's messages wait in a SocketInbox rather than Daphne's
asyncio.Queue (realtime.inbox: a few KB less per idle socket).

These lean on private names of Twisted, autobahn and Daphne, pinned in
requirements.txt and listed in tests/realtime/test_canaries.py.

Nothing here makes frames or handshakes faster: that is the application's own
send path (realtime.fastsend) and its settled connection options
(realtime.settled), the same under any launch of Daphne.

A client that trickles its request headers (slowloris) is closed after
REALTIME_HEADER_TIMEOUT seconds (realtime.header_deadline, armed before accepting).
"""

import asyncio
import logging
import signal
from functools import partial

from .inbox import SocketInbox

logger = logging.getLogger(__name__)

GOING_AWAY = 1001


def unsent_bytes(transport) -> int:
    """Bytes a Twisted TCP transport holds because the peer is not reading."""
    buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    return buffered + getattr(transport, "_tempDataLen", 0)


def run_worker(*, fd: int, grace: float, proxy_headers: bool, worker_name: str) -> None:
    # Daphne installs Twisted's asyncio reactor on import: import it first.
    from channels.routing import get_default_application
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from django.conf import settings
    from twisted.internet import reactor

    from . import header_deadline

    class GracefulServer(Server):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.ports = []
            self.stopping = False

        def create_application(self, protocol, scope):
            # Daphne's own, with a SocketInbox for a WebSocket's messages
            # instead of an asyncio.Queue (realtime.inbox: the memory of every
            # idle socket).
            if scope.get("type") != "websocket":
                return super().create_application(protocol, scope)
            assert "application_instance" not in self.connections[protocol]
            inbox = SocketInbox()
            scope.setdefault("asgi", {"version": "3.0"})
            instance = self.application(
                scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol)
            )
            if protocol not in self.connections:
                return None
            self.connections[protocol]["application_instance"] = asyncio.ensure_future(
                instance, loop=asyncio.get_event_loop()
            )
            return inbox

        def listen_success(self, port):
            # Before the reactor runs, so before the first connection is accepted.
            header_deadline.install(self.http_factory, settings.REALTIME_HEADER_TIMEOUT)
            self.ports.append(port)
            super().listen_success(port)

        def timeout_checker(self):
            # Daphne runs this every couple of seconds; add the slow-reader
            # check. Twisted watches a connection for writing only while bytes
            # wait in it, so those are the ones to look at, not every socket
            # of the worker (a scan of them all was 8% of an idle worker's
            # busy samples, `--gil` py-spy, 1,000 sockets each).
            limit = settings.REALTIME_MAX_SEND_BUFFER
            for transport in reactor.getWriters():  # type: ignore[misc]  # zope interface, read without `self`
                protocol = getattr(transport, "protocol", None)
                if (
                    isinstance(protocol, WebSocketProtocol)
                    and protocol.state == WebSocketProtocol.STATE_OPEN
                    and unsent_bytes(transport) > limit
                ):
                    logger.warning(
                        "%s: dropping a client that stopped reading (%d bytes unsent)",
                        worker_name,
                        unsent_bytes(transport),
                    )
                    transport.abortConnection()
            super().timeout_checker()

        def open_websockets(self):
            return [
                protocol
                for protocol in list(self.connections)
                if isinstance(protocol, WebSocketProtocol)
                and protocol.state == WebSocketProtocol.STATE_OPEN
            ]

        def graceful_stop(self):
            if self.stopping:
                return
            self.stopping = True
            for port in self.ports:
                port.stopListening()
            sockets = self.open_websockets()
            logger.info("%s: stopping, closing %d websockets with 1001", worker_name, len(sockets))
            for protocol in sockets:
                # sendClose() refuses 1001 (it is the server's code, not an
                # application's), so send the close frame directly.
                protocol.sendCloseFrame(code=GOING_AWAY, reasonUtf8=b"server going away")
            self.wait_then_stop(grace)

        def wait_then_stop(self, remaining: float):
            busy = [p for p in self.connections if "disconnected" not in self.connections[p]]
            if not busy or remaining <= 0:
                reactor.stop()  # type: ignore[misc]  # zope interface, read without `self`
            else:
                reactor.callLater(0.1, self.wait_then_stop, remaining - 0.1)  # type: ignore[arg-type]  # as stop()

    proxy = {}
    if proxy_headers:
        proxy = {
            "proxy_forwarded_address_header": "X-Forwarded-For",
            "proxy_forwarded_port_header": "X-Forwarded-Port",
            "proxy_forwarded_proto_header": "X-Forwarded-Proto",
        }
    server = GracefulServer(
        application=get_default_application(),
        endpoints=[f"fd:fileno={fd}"],
        signal_handlers=False,
        # Daphne drops a handshake the application has not answered in 5 s;
        # a reconnect storm queues longer than that behind the database.
        websocket_handshake_timeout=settings.REALTIME_HANDSHAKE_TIMEOUT,
        # Daphne pings every socket every 20 s to find dead clients; ours ping
        # every REALTIME_PING_INTERVAL and a silent one is closed after
        # REALTIME_IDLE_TIMEOUT, so its pings only back that up (for clients
        # that do not ping): a ping and its pong per socket every 20 s were a
        # fifth of an idle worker's busy samples (py-spy, 1,000 sockets each).
        ping_interval=settings.REALTIME_IDLE_TIMEOUT,
        **proxy,
    )

    def on_signal(signum, frame):
        reactor.callFromThread(server.graceful_stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.run()
