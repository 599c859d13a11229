"""Both sockets of a page notice a half-open connection the same way: a ping
whose pong never comes. The browser's clock is driven by the test, and the
pongs are swallowed between the page and the server, so the connection looks
open to the browser while nothing comes back."""

import json
import time
from urllib.parse import urlsplit

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

PING_EVERY_MS = 25_000  # REALTIME_PING_INTERVAL and REALTIME_PONG_TIMEOUT in config/settings.py
PONG_WAIT_MS = 10_000


class SwallowPongs:
    """Pass every frame between page and server but the server's pongs;
    count the connections per socket path."""

    def __init__(self) -> None:
        self.connections: dict[str, int] = {}
        self.swallowed = 0

    def __call__(self, route) -> None:
        path = urlsplit(route.url).path
        self.connections[path] = self.connections.get(path, 0) + 1
        server = route.connect_to_server()
        route.on_message(server.send)
        server.on_message(lambda message: self._to_page(route, message))

    def _to_page(self, route, message) -> None:
        try:
            frame = json.loads(message)
        except (TypeError, ValueError):
            frame = None
        if isinstance(frame, dict) and frame.get("type") == "pong":
            self.swallowed += 1
            return
        route.send(message)


def wait_until(page, predicate, what: str, timeout: float = 15) -> None:
    """Let the page's events run (on real time) until `predicate` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def test_room_and_bell_sockets_reconnect_when_pongs_stop(stack, room, open_room):
    user = open_room("alice", room, stack.workers[0])
    page = user.page
    page.clock.install()
    pongs = SwallowPongs()
    page.route_web_socket("**/ws/**", pongs)
    page.reload()  # the page's timers and sockets now run on the test's clock and route
    connection = page.locator("#connection")
    bell = page.locator("#notif-bell")
    expect(connection).to_have_attribute("data-state", "connected")
    expect(bell).to_have_attribute("data-state", "connected")
    assert pongs.connections == {f"/ws/chat/{room}/": 1, "/ws/notifications/": 1}

    # A ping goes out; its pong is swallowed: the browser still thinks all is well.
    page.clock.run_for(PING_EVERY_MS + 100)
    wait_until(page, lambda: pongs.swallowed >= 2, "both pongs to be swallowed")
    expect(connection).to_have_attribute("data-state", "connected")
    expect(bell).to_have_attribute("data-state", "connected")

    # The pong is late: both sockets give up and connect again (after a backoff).
    page.clock.run_for(PONG_WAIT_MS + 2_000)
    expect(connection).to_have_attribute("data-state", "connected")
    expect(bell).to_have_attribute("data-state", "connected")
    reconnected = {f"/ws/chat/{room}/": 2, "/ws/notifications/": 2}
    wait_until(page, lambda: pongs.connections == reconnected, "one new socket each")
    assert user.errors == []
