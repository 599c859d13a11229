"""One Daphne worker on an inherited listening socket, that shuts down gracefully.

On SIGTERM (or SIGINT) it stops accepting, closes every WebSocket with 1001
("going away") so clients reconnect to another worker and resume, lets the
consumers run their disconnect handlers, then stops. Daphne alone would drop
the connections without a close frame.
"""

import logging
import signal

logger = logging.getLogger(__name__)

GOING_AWAY = 1001


def run_worker(*, fd: int, grace: float, proxy_headers: bool, worker_name: str) -> None:
    # Daphne installs Twisted's asyncio reactor on import: import it first.
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import reactor

    from config.asgi import application

    class GracefulServer(Server):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.ports = []
            self.stopping = False

        def listen_success(self, port):
            self.ports.append(port)
            super().listen_success(port)

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
                reactor.stop()
            else:
                reactor.callLater(0.1, self.wait_then_stop, remaining - 0.1)

    proxy = {}
    if proxy_headers:
        proxy = {
            "proxy_forwarded_address_header": "X-Forwarded-For",
            "proxy_forwarded_port_header": "X-Forwarded-Port",
            "proxy_forwarded_proto_header": "X-Forwarded-Proto",
        }
    server = GracefulServer(
        application=application,
        endpoints=[f"fd:fileno={fd}"],
        signal_handlers=False,
        **proxy,
    )

    def on_signal(signum, frame):
        reactor.callFromThread(server.graceful_stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.run()
