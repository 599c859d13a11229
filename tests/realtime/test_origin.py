import pytest
from asgiref.compatibility import guarantee_single_callable
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from realtime.origin import SameOriginValidator, origin_allowed


def scope(origin, host="chat.example.com", scheme="ws"):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@override_settings(ALLOWED_HOSTS=["chat.example.com"])
@pytest.mark.parametrize(
    ("origin", "scheme", "allowed"),
    [
        ("http://chat.example.com", "ws", True),
        ("https://chat.example.com", "wss", True),
        ("https://chat.example.com", "ws", False),
        ("http://chat.example.com", "wss", False),
        ("http://chat.example.com:8080", "ws", False),
        ("http://chat.example.com.evil.tld", "ws", False),
        ("http://evil.tld", "ws", False),
        ("null", "ws", False),
        (None, "ws", False),
        ("http://chat.example.com/path", "ws", False),
        ("javascript://chat.example.com", "ws", False),
    ],
)
def test_origin_must_be_our_own(origin, scheme, allowed):
    assert origin_allowed(scope(origin, scheme=scheme)) is allowed


@override_settings(ALLOWED_HOSTS=["chat.example.com"])
def test_host_outside_allowed_hosts_is_refused_even_when_origin_matches():
    assert not origin_allowed(scope("http://evil.tld", host="evil.tld"))


async def _accepting_app(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await receive()


@override_settings(ALLOWED_HOSTS=["chat.example.com"])
@pytest.mark.parametrize(
    ("origin", "accepted"), [("http://chat.example.com", True), ("http://evil.tld", False)]
)
# Channels' denier is a consumer: it closes the thread's old database
# connections, which the test's database guard refuses whenever that thread
# has one open from an earlier test.
@pytest.mark.django_db
async def test_the_validator_passes_our_origin_and_denies_others(origin, accepted):
    headers = [(b"host", b"chat.example.com"), (b"origin", origin.encode())]
    communicator = WebsocketCommunicator(SameOriginValidator(_accepting_app), "/", headers)
    connected, _ = await communicator.connect()
    assert connected is accepted
    await communicator.disconnect()


@override_settings(ALLOWED_HOSTS=["chat.example.com"])
def test_an_open_socket_keeps_no_coroutine_of_the_validator():
    validator = SameOriginValidator(_accepting_app)
    # asgiref (Daphne's command line) takes it as an ASGI 3 application.
    assert guarantee_single_callable(validator) is validator
    running = validator(scope("http://chat.example.com"), None, None)
    # The socket runs in the inner application's own coroutine, nothing around it.
    assert running.cr_code is _accepting_app.__code__
    running.close()
