import pytest
from django.test import override_settings

from realtime.origin import origin_allowed


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
