"""Free the HTTP request a WebSocket connection was upgraded from.

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
"""

from twisted.web import http


def release_http_channel(protocol) -> bool:
    """Drop the upgraded HTTP channel from `protocol`'s transport; return
    whether there was one (not over TLS, where the producer is wrapped)."""
    transport = getattr(protocol, "transport", None)
    if transport is None or not isinstance(getattr(transport, "producer", None), http.HTTPChannel):
        return False
    transport.unregisterProducer()
    return True
