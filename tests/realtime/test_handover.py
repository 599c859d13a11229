"""realtime.handover on Daphne's real HTTP and WebSocket protocols: once a
connection is upgraded, the HTTP channel and request it came through are freed,
and the WebSocket goes on sending; once it has closed, it is freed too. Both
by reference counting: the collector is off while they are looked for."""

import asyncio
import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.web import http

from realtime import handover, incoming
from realtime.transport import SocketConsumer


@contextmanager
def collector_off() -> Iterator[None]:
    """What is freed meanwhile is freed by reference counting alone."""
    gc.collect()  # what earlier tests left waits for no pass in the middle
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def forget_ended(daphne_server) -> None:
    """What Daphne's application checker does every second: forget the
    connections it was told are done with."""
    daphne_server.connections = {
        key: details
        for key, details in daphne_server.connections.items()
        if "disconnected" not in details
    }


async def test_an_upgraded_connection_no_longer_keeps_its_http_request(daphne_server, upgrade):
    started = asyncio.Event()

    async def application(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        started.set()
        await asyncio.Event().wait()  # an idle socket

    connection, transport = upgrade(application)
    await asyncio.wait_for(started.wait(), 5)
    protocol = transport.protocol
    assert protocol is not connection  # Daphne handed the connection over
    channel = transport.producer  # what this frees
    assert isinstance(channel, http.HTTPChannel)
    request = weakref.ref(channel.requests[0])
    channel = weakref.ref(channel)
    del connection

    with collector_off():
        assert handover.release_http_channel(protocol)
        forget_ended(daphne_server)  # the request, which Daphne was told is done with
        assert channel() is None
        assert request() is None
    assert transport.producer is None
    protocol.sendMessage(b"still open", False)
    assert transport.value().endswith(b"still open")
    assert not handover.release_http_channel(protocol)  # nothing left to free


def test_a_transport_without_an_http_channel_is_left_alone(daphne_protocol):
    transport = daphne_protocol.transport
    producer = object()
    transport.producer = producer
    assert not handover.release_http_channel(daphne_protocol)
    assert transport.producer is producer


async def closed_websocket(upgrade):
    """A WebSocket Daphne upgraded, reading with realtime.incoming's reader,
    then lost, its application ended; and its in-memory transport."""
    accepted, ended = asyncio.Event(), asyncio.Event()

    async def application(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        accepted.set()
        while (await receive())["type"] != "websocket.disconnect":
            pass
        ended.set()

    _, transport = upgrade(application)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol = transport.protocol
    assert handover.release_http_channel(protocol)
    assert incoming.read_frames(protocol)  # its reader: a method bound to it
    assert not handover.release_closed(protocol)  # open: left as it is
    assert "dataReceived" in vars(protocol)

    protocol.connectionLost(Failure(ConnectionDone()))
    await asyncio.wait_for(ended.wait(), 5)
    await asyncio.sleep(0)  # the application's task ends
    return protocol, transport


@pytest.mark.parametrize("released", [True, False], ids=["released", "left"])
async def test_a_closed_websocket_is_freed_without_the_collector(daphne_server, upgrade, released):
    """Left alone, the closed connection waits for the collector: the test sees
    the references release_closed drops."""
    protocol, transport = await closed_websocket(upgrade)
    with collector_off():
        if released:
            assert handover.release_closed(protocol)
        forget_ended(daphne_server)
        transport.protocol = None  # as Twisted's TCP connection drops it when lost
        freed = weakref.ref(protocol)
        del protocol
        assert (freed() is None) is released
    gc.collect()
    assert freed() is None


async def test_a_socket_that_ends_releases_its_closed_connection(upgrade):
    protocol, _ = await closed_websocket(upgrade)
    socket = SocketConsumer()
    socket.channel_layer = None  # it never ran: nothing to leave
    socket.ws_protocol = protocol
    await socket.release()
    assert "dataReceived" not in vars(protocol)
    assert protocol.is_closed.called and protocol.is_closed.result is None
