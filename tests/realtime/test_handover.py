"""realtime.handover on Daphne's real HTTP and WebSocket protocols: once a
connection is upgraded, the HTTP channel and request it came through are freed,
and the WebSocket goes on sending."""

import asyncio
import gc
import weakref

from twisted.web import http

from realtime import handover


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

    assert handover.release_http_channel(protocol)

    # What Daphne's application checker does every second: forget the request
    # it was told is done with.
    daphne_server.connections = {
        key: details
        for key, details in daphne_server.connections.items()
        if "disconnected" not in details
    }
    gc.collect()
    assert transport.producer is None
    assert channel() is None
    assert request() is None
    protocol.sendMessage(b"still open", False)
    assert transport.value().endswith(b"still open")
    assert not handover.release_http_channel(protocol)  # nothing left to free


def test_a_transport_without_an_http_channel_is_left_alone(daphne_protocol):
    transport = daphne_protocol.transport
    producer = object()
    transport.producer = producer
    assert not handover.release_http_channel(daphne_protocol)
    assert transport.producer is producer
