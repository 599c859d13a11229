"""Django's middleware under ASGI runs in one thread hop, not one per hook
(config.middleware)."""

import asyncio

import pytest
from asgiref import sync
from django.conf import settings
from django.test import Client


@pytest.fixture
def hops(monkeypatch):
    """What runs through sync_to_async, each call a hop to a thread and back."""
    made: list[str] = []
    call = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        made.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    return made


def asgi_get(path: str, cookie: str) -> tuple[int, dict[bytes, bytes]]:
    """GET `path` through the ASGI application, as Daphne would: the status and
    the headers."""
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    received = [{"type": "http.request", "body": b"", "more_body": False}]
    started: list[dict] = []

    async def run() -> None:
        finished = asyncio.Event()

        async def receive():
            if received:
                return received.pop()
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                started.append(message)
            elif not message.get("more_body"):
                finished.set()

        await application(scope, receive, send)

    sync.async_to_sync(run)()
    return started[0]["status"], dict(started[0]["headers"])


@pytest.mark.django_db(transaction=True)
def test_a_page_takes_one_hop_for_all_the_middleware(alice, public_room, hops):
    client = Client()
    client.force_login(alice)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    status, headers = asgi_get(f"/chat/{public_room.slug}/", cookie)

    assert status == 200
    # The middleware ran: its clickjacking and CSP headers are there.
    assert headers[b"X-Frame-Options"] == b"DENY"
    assert b"Content-Security-Policy" in headers
    # None of its hooks in a hop of its own; the view in one.
    assert [name for name in hops if name.endswith(("process_request", "process_response"))] == []
    assert hops.count("room_detail") == 1
