"""The deadline on request headers (realtime.header_deadline), on Twisted's real
HTTP parser with a test transport and a clock the test drives. The same code on
real workers: tests/integration/test_slow_headers.py. These fail if Twisted's or
Daphne's hooks the module relies on change."""

import functools

import pytest
from asgiref.compatibility import guarantee_single_callable
from daphne.http_protocol import HTTPFactory, WebRequest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web import http

from realtime import header_deadline
from realtime.header_deadline import HeaderDeadlineChannel

TIMEOUT = 10


class Answered(http.Request):
    """Answers every request at once, as an application would."""

    def process(self):
        self.setResponseCode(200)
        self.setHeader(b"content-length", b"2")
        self.write(b"ok")
        self.finish()


class Unanswered(http.Request):
    """Never answers: the application is still working on it."""

    def process(self):
        pass


def connect(request_factory=Answered):
    clock = Clock()
    channel = HeaderDeadlineChannel(TIMEOUT)
    channel.callLater = clock.callLater
    channel.requestFactory = request_factory
    channel.timeOut = None  # only the header deadline is under test here
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport, clock


def closed(transport) -> bool:
    return transport.disconnecting or transport.disconnected


def test_headers_trickled_a_line_a_second_are_cut_at_the_deadline():
    channel, transport, clock = connect()
    channel.dataReceived(b"GET / HTTP/1.1\r\n")
    for n in range(TIMEOUT - 1):
        clock.advance(1)
        channel.dataReceived(b"X-Slow-%d: 1\r\n" % n)
        assert not closed(transport)
    clock.advance(1)
    assert closed(transport)
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout")


def test_a_connection_that_sends_nothing_is_cut_at_the_deadline():
    _, transport, clock = connect()
    clock.advance(TIMEOUT - 0.1)
    assert not closed(transport)
    clock.advance(0.1)
    assert closed(transport)


def test_complete_headers_belong_to_the_application():
    channel, transport, clock = connect(Unanswered)
    channel.dataReceived(b"GET / HTTP/1.1\r\n")
    clock.advance(TIMEOUT - 1)
    channel.dataReceived(b"Host: example\r\n\r\n")
    clock.advance(10 * TIMEOUT)
    assert not closed(transport) and not clock.getDelayedCalls()


def test_each_request_on_a_kept_alive_connection_gets_the_deadline_again():
    channel, transport, clock = connect()
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    assert b"200 OK" in transport.value()
    clock.advance(TIMEOUT - 1)
    # Two more, pipelined in one read: the second is parsed after the first is done.
    channel.dataReceived(
        b"GET /a HTTP/1.1\r\nHost: example\r\n\r\nGET /b HTTP/1.1\r\nHost: example\r\n\r\n"
    )
    assert transport.value().count(b"200 OK") == 3
    clock.advance(TIMEOUT - 0.1)
    assert not closed(transport)
    clock.advance(0.1)
    assert closed(transport)


def test_a_request_read_while_another_was_handled_is_not_cut():
    channel, transport, clock = connect(Unanswered)
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: example\r\n\r\n")
    # Sent while /a is being handled: Twisted holds it until /a is done.
    channel.dataReceived(b"GET /b HTTP/1.1\r\nHost: example\r\n\r\n")
    Answered.process(channel.requests[0])
    assert [request.path for request in channel.requests] == [b"/b"]
    clock.advance(10 * TIMEOUT)
    assert not closed(transport) and not clock.getDelayedCalls()


def test_install_makes_daphnes_factory_build_deadline_channels():
    factory = HTTPFactory(server=None)
    assert header_deadline.install(factory, 7)
    assert header_deadline.install(factory, 7)  # once is enough; again changes nothing
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    assert isinstance(protocol, HeaderDeadlineChannel)
    assert protocol.header_timeout == 7 and protocol.timeOut == 7
    assert protocol.requestFactory is WebRequest


class FakeServer:
    def __init__(self):
        self.http_factory = HTTPFactory(server=self)

    def handle_reply(self, protocol, message):
        pass


@pytest.mark.parametrize(
    ("send", "found"),
    [
        (functools.partial(FakeServer().handle_reply, object()), True),
        (functools.partial(print, object()), False),
        (print, False),
    ],
)
def test_the_daphne_server_is_found_only_behind_its_own_send(send, found):
    assert (header_deadline.daphne_server_of(send) is not None) is found


def test_an_open_socket_keeps_no_coroutine_of_the_deadline_middleware():
    async def application(scope, receive, send):
        pass

    middleware = header_deadline.ArmHeaderDeadline(application, TIMEOUT)
    # asgiref (Daphne's command line) takes it as an ASGI 3 application.
    assert guarantee_single_callable(middleware) is middleware
    running = middleware({"type": "websocket"}, None, None)
    # The connection runs in the inner application's own coroutine.
    assert running.cr_code is application.__code__
    running.close()
    assert middleware.armed
