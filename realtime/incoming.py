"""A socket's incoming bytes handed straight to autobahn's frame parser.

Why. autobahn's Twisted protocol writes a debug line for every chunk of bytes it
receives, and builds that line's arguments before its logger decides to drop it:
the method's qualified name, the peer and the length, each styled with
`click.style` when click is installed (as it is alongside many tools). In a
`--gil` py-spy profile of a worker at 200 chat sends/s over 100 rooms, that was
2.1% of the worker's CPU, for a line nobody sees unless autobahn's debug log is
on. The method does nothing else: it passes the bytes to `_dataReceived`.

Per connection, nothing patched: the consumer points its own connection's
`dataReceived` at that connection's `_dataReceived`, only when the class's method
is autobahn's own (a subclass reads its own way). What is left out is that one
debug line per chunk on app sockets; the handshake's and the close's stay.
tests/realtime/test_canaries.py fails if autobahn's method does more.
"""

from autobahn.twisted.websocket import WebSocketAdapterProtocol


def read_without_debug_line(protocol) -> bool:
    """Make `protocol` hand what it receives straight to its parser; return
    whether it could."""
    if type(protocol).dataReceived is not WebSocketAdapterProtocol.dataReceived:
        return False
    protocol.dataReceived = protocol._dataReceived
    return True
