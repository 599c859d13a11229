"""realtime.settled on Daphne's real WebSocket factory and protocol: once a
server's first socket settles its factory, later connections read every option
from their class, with the values a stock connection copies onto itself."""

import asyncio

from channels.routing import URLRouter
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet.testing import StringTransport

from config.routing import websocket_urlpatterns
from realtime import settled
from realtime.auth import SessionAuthMiddleware

NAMES = WebSocketProtocol.CONFIG_ATTRS


def daphnes_factory(daphne_server):
    factory = WebSocketFactory(daphne_server, server="Daphne")
    # The options set before the first connection, as Daphne's run() sets them.
    factory.setProtocolOptions(autoPingTimeout=7, allowNullOrigin=True, openHandshakeTimeout=9)
    return factory


def connect(factory):
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    return protocol


def test_a_settled_protocol_reads_every_option_from_its_class(daphne_server):
    factory = daphnes_factory(daphne_server)
    stock = connect(factory)
    factory.protocol = settled.settled_protocol(factory)
    later = connect(factory)

    assert len(NAMES) > 20 and isinstance(later, WebSocketProtocol)
    # The same option values a stock connection copied onto itself...
    assert {n: getattr(later, n) for n in NAMES} == {n: getattr(stock, n) for n in NAMES}
    assert (later.autoPingTimeout, later.openHandshakeTimeout) == (7, 9)
    assert later.perMessageCompressionAccept([]) is None  # a callback, not a method
    # ...none of them copied onto the connection.
    assert all(n in vars(stock) for n in NAMES)
    assert not any(n in vars(later) for n in NAMES)


def test_the_first_socket_settles_its_factory_once(daphne_server):
    factory = daphnes_factory(daphne_server)
    first = connect(factory)
    assert settled.settle_factory(first)
    settled_class = factory.protocol
    assert settled_class is not WebSocketProtocol
    assert issubclass(settled_class, WebSocketProtocol)
    later = connect(factory)
    assert type(later) is settled_class
    assert not any(n in vars(later) for n in NAMES)
    # The first connection keeps what it copied; neither settles again.
    assert all(n in vars(first) for n in NAMES)
    assert not settled.settle_factory(first)
    assert not settled.settle_factory(later)
    assert factory.protocol is settled_class


def test_another_protocol_class_is_left_alone(daphne_server):
    factory = daphnes_factory(daphne_server)

    class Custom(WebSocketProtocol):
        pass

    factory.protocol = Custom
    assert not settled.settle_factory(connect(factory))
    assert factory.protocol is Custom
    assert not settled.settle_factory(object())  # no factory at all


async def test_the_apps_first_socket_settles_its_servers_factory(daphne_server, upgrade):
    # The app's socket route behind Daphne's own upgrade: not logged in, so
    # refused, after its connection has been looked at.
    _connection, transport = upgrade(SessionAuthMiddleware(URLRouter(websocket_urlpatterns)))
    factory = daphne_server.ws_factory
    async with asyncio.timeout(5):
        while factory.protocol is WebSocketProtocol:
            await asyncio.sleep(0.01)
    assert issubclass(factory.protocol, WebSocketProtocol)
    assert factory.protocol.CONFIG_ATTRS == ()
    assert type(transport.protocol) is WebSocketProtocol  # this one made before
