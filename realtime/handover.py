"""Free what a WebSocket connection no longer needs: the HTTP request it was
upgraded from, and, once it has closed, the connection itself.

Why. Daphne parses the handshake with Twisted's HTTPChannel, which registers
itself as the connection's producer (`transport.producer`) when the connection
is made. Daphne then hands the connection to its WebSocket protocol but leaves
that registration, so for as long as the socket is open the transport keeps the
channel alive, and with it the handshake's Request: its header objects, its
body buffer, its response headers, Daphne's request state. None of it is used
again: once upgraded, the channel is in the middle of a request it never
finishes, so its pause and resume are no-ops and its stopProducing has nothing
to stop. Measured under plain Daphne with tracemalloc (one worker, 600 idle
sockets, `gc.collect()` before each snapshot): about 3.5 KiB of every idle
socket's 30 KiB was this channel and its request.

Per connection, nothing patched: the consumer unregisters the channel from its
own transport (Twisted's public IConsumer.unregisterProducer), only when the
producer there is an HTTPChannel. tests/realtime/test_canaries.py fails if
Twisted stops keeping it there (`producer`).

Freed by reference counting, not by the collector. The handshake's request
never finishes, so the channel never drops it from its queue (Twisted's
`requestDone`), and each refers to the other; a closed WebSocket connection
refers to itself twice: autobahn resolves its `is_closed` with the connection
itself, and realtime.incoming's reader is a method bound to it. Left so, every
connection waits for a pass of the cyclic collector (60 objects each: 100
sockets opened and closed under plain Daphne, `gc.DEBUG_SAVEALL`), and counts
towards the next full one, which walks them all: after 10,000 closed
connections, a worker's full passes while 2,000 users joined took 2.0-2.1 s,
0.13-0.18 s once they were freed (bench/README.md). So the channel's queue is
emptied once the connection is upgraded (`release_http_channel`), and the
consumer drops the closed connection's references to itself when it ends
(`release_closed`).
"""

from twisted.internet import defer
from twisted.web import http


def release_http_channel(protocol) -> bool:
    """Drop the upgraded HTTP channel from `protocol`'s transport; return
    whether there was one (not over TLS, where the producer is wrapped)."""
    transport = getattr(protocol, "transport", None)
    if transport is None or not isinstance(getattr(transport, "producer", None), http.HTTPChannel):
        return False
    channel = transport.producer
    transport.unregisterProducer()
    channel.requests.clear()  # the upgraded request, which never finishes
    return True


def release_closed(protocol) -> bool:
    """Drop what a closed WebSocket connection (`protocol`) holds of itself (see
    the module); return whether it was closed. Nothing reads either once it
    has: autobahn reads no frames after closing, and Daphne and this app never
    wait on `is_closed`."""
    if protocol.state != protocol.STATE_CLOSED:
        return False
    protocol.__dict__.pop("dataReceived", None)  # realtime.incoming's, bound to it
    protocol.is_closed = defer.succeed(None)  # autobahn's, resolved with it
    return True
