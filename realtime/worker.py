"""One Daphne worker on an inherited listening socket, that shuts down gracefully
and drops clients that stop reading.

On SIGTERM (or SIGINT) it stops accepting, closes every WebSocket with 1001
("going away") so clients reconnect to another worker and resume, lets the
consumers run their disconnect handlers, then stops. Daphne alone would drop
the connections without a close frame.

Daphne buffers whatever the application sends, without limit, for a client that
does not read; this worker aborts a connection whose unsent bytes pass
REALTIME_MAX_SEND_BUFFER. The client comes back and resumes by seq.

Both lean on private names of Twisted, autobahn and Daphne, pinned in
requirements.txt and listed in tests/realtime/test_canaries.py. A Twisted without
them leaves the eager write off, counted in relay_fast_path_fallbacks_total and
logged once.

A client that trickles its request headers (slowloris) is closed after
REALTIME_HEADER_TIMEOUT seconds (realtime.header_deadline, armed before accepting).
"""

import inspect
import logging
import signal
import socket

from . import metrics

logger = logging.getLogger(__name__)

GOING_AWAY = 1001
# What the eager write reads of a Twisted TCP connection (underscored: private).
CONNECTION_NAMES = (
    "socket",
    "connected",
    "disconnecting",
    "_writeDisconnected",
    "_tempDataLen",
    "dataBuffer",
    "offset",
)


def _twisted_changes(reactor) -> list[str]:
    """Return what the eager write relies on and this Twisted lacks."""
    from twisted.internet import abstract, tcp

    changes = []
    parameters = list(inspect.signature(abstract.FileDescriptor.write).parameters)
    if parameters != ["self", "data"]:
        changes.append(f"FileDescriptor.write({', '.join(parameters)})")
    # Most of them are set on the instance: ask a real, unconnected one.
    with socket.socket() as sock:
        connection = tcp.Connection(sock, None, reactor)  # type: ignore[arg-type]  # no protocol
        changes += [
            f"Connection.{name}" for name in CONNECTION_NAMES if not hasattr(connection, name)
        ]
    return changes


def write_eagerly(reactor) -> bool:
    """Make Twisted try the socket at once when nothing is queued; return
    whether it did (if not, the fallback is counted and logged).

    Twisted queues every write for the next reactor turn: register the socket
    for writability, wake up, send, unregister, i.e. three system calls and a
    loop iteration per WebSocket frame, the largest cost of a delivery in
    profiles. A frame to a socket with nothing pending goes out now; only what
    the kernel does not take is queued, in order, as before.
    """
    from twisted.internet import abstract

    changes = _twisted_changes(reactor)
    if changes:
        metrics.fast_path_fallback(
            "eager_write",
            "twisted_changed",
            f"Twisted no longer has {', '.join(changes)}; every frame waits for the next "
            "reactor turn",
        )
        return False

    buffered_write = abstract.FileDescriptor.write

    def write(self, data: bytes) -> None:
        sock = getattr(self, "socket", None)
        if (
            sock is not None
            and data
            and isinstance(data, bytes)
            and self.connected
            and not self.disconnecting
            and not self._writeDisconnected
            and not self._tempDataLen
            and self.offset == len(self.dataBuffer)
        ):
            try:
                sent = sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # the queued write meets the error and closes the connection
            if sent == len(data):
                return
            data = data[sent:]
        buffered_write(self, data)

    abstract.FileDescriptor.write = write  # type: ignore[method-assign]  # the trick itself
    return True


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

    write_eagerly(reactor)

    class GracefulServer(Server):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.ports = []
            self.stopping = False

        def listen_success(self, port):
            # Before the reactor runs, so before the first connection is accepted.
            header_deadline.install(self.http_factory, settings.REALTIME_HEADER_TIMEOUT)
            self.ports.append(port)
            super().listen_success(port)

        def timeout_checker(self):
            # Daphne runs this every couple of seconds; add the slow-reader check.
            limit = settings.REALTIME_MAX_SEND_BUFFER
            for protocol in self.open_websockets():
                transport = protocol.transport
                if transport is not None and unsent_bytes(transport) > limit:
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
        **proxy,
    )

    def on_signal(signum, frame):
        reactor.callFromThread(server.graceful_stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.run()
