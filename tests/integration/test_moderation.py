"""Room moderation across two `manage.py serve` workers and a real Redis: a ban
closes the banned user's sockets of the room on both workers at once, pins
reach every socket, slow mode holds across workers, a report resolved in the
admin bans on every worker, and a block refuses a direct conversation on any
worker."""

import asyncio
import re
import time

import pytest
import pytest_asyncio

from harness.checks import wait_until
from harness.clients import Socket, login, stop_all

pytestmark = pytest.mark.integration


class ModerationClient(Socket):
    """A room socket that keeps every frame after hello (no reconnect)."""

    kind = "moderation"

    def __init__(self, name: str, urls: list[str], slug: str, cookie: str) -> None:
        super().__init__(name, urls, cookie, reconnect=False)
        self.slug = slug
        self.frames: list[dict] = []

    def path(self) -> str:
        return f"/ws/chat/{self.slug}/"

    async def on_frame(self, frame: dict) -> None:
        self.frames.append(frame)

    def of_type(self, kind: str) -> list[dict]:
        return [frame for frame in self.frames if frame["type"] == kind]


@pytest_asyncio.fixture
async def sockets(cookies):
    """Open a room socket as a user on a worker; all are closed after the test."""
    opened: list[ModerationClient] = []

    async def open_(user: str, slug: str, worker) -> ModerationClient:
        socket = ModerationClient(f"{user}@{worker.port}", [worker.url], slug, cookies[user])
        opened.append(socket)
        return await socket.start()

    yield open_
    await stop_all(opened)


async def post(worker, user: str, password: str, path: str, data: dict, page: str):
    """POST a form on `worker` as `user` (a fresh login there)."""
    session = await asyncio.to_thread(login, worker.url, user, password)
    return await asyncio.to_thread(session.post_form, path, data, page=page)


async def join(worker, user: str, password: str, slug: str) -> None:
    joined = await post(worker, user, password, f"/chat/{slug}/join/", {}, f"/chat/{slug}/")
    assert joined.status == 302, joined.body[:300]


async def send_message(socket: ModerationClient, body: str, client_id: str) -> dict:
    """Send and wait for the message to come back on the same socket."""
    await socket.send_json({"type": "send", "body": body, "client_id": client_id})
    await wait_until(
        lambda: any(
            f["type"] == "message" and f["message"]["client_id"] == client_id for f in socket.frames
        ),
        10,
        f"{client_id} echoed",
    )
    return next(
        f["message"]
        for f in socket.frames
        if f["type"] == "message" and f["message"]["client_id"] == client_id
    )


async def test_ban_closes_the_banned_users_sockets_on_both_workers_at_once(
    workers, room, sockets, password
):
    a, b = workers
    await join(a, "bob", password, room)
    await join(b, "carol", password, room)
    bob_a = await sockets("bob", room, a)
    bob_b = await sockets("bob", room, b)
    carol_b = await sockets("carol", room, b)
    banned = await post(
        a, "alice", password, f"/chat/{room}/members/ban/", {"username": "bob"}, f"/chat/{room}/"
    )
    assert banned.status == 302, banned.body[:300]
    done = time.monotonic()
    await wait_until(lambda: bool(bob_a.closes and bob_b.closes), 10, "both of bob's sockets")
    assert (bob_a.closes[0].code, bob_a.closes[0].url) == (4403, a.url)
    assert (bob_b.closes[0].code, bob_b.closes[0].url) == (4403, b.url)
    # At once: within a second of the ban's answer, on either worker.
    spread = max(bob_a.closes[0].at, bob_b.closes[0].at) - done
    assert spread < 1.0, spread
    assert not carol_b.closes

    # Refused on both workers from now on: the socket (4403, no frame) and the pages.
    for worker in (a, b):
        again = ModerationClient(f"bob-again@{worker.port}", [worker.url], room, bob_a.cookie)
        with pytest.raises(AssertionError, match="stopped"):
            await again.start(timeout=10)
        assert [close.code for close in again.closes] == [4403]
        assert not again.frames and not again.hellos
        session = await asyncio.to_thread(login, worker.url, "bob", password)
        page = await asyncio.to_thread(session.get, f"/chat/{room}/")
        assert page.status == 403 and "banned" in page.body
        joined = await asyncio.to_thread(
            session.post_form, f"/chat/{room}/join/", {}, page="/chat/"
        )
        assert joined.status == 403

    # Unbanned on one worker, bob is back in on the other.
    unbanned = await post(
        b, "alice", password, f"/chat/{room}/members/unban/", {"username": "bob"}, f"/chat/{room}/"
    )
    assert unbanned.status == 302
    back = await sockets("bob", room, a)
    assert back.hellos and not back.closes


async def test_pins_reach_every_socket_on_both_workers(workers, room, sockets, password):
    a, b = workers
    await join(b, "bob", password, room)
    alice_a = await sockets("alice", room, a)
    bob_b = await sockets("bob", room, b)
    carol_a = await sockets("carol", room, a)
    message = await send_message(bob_b, "the rules: be kind", "rules-1")
    await alice_a.send_json({"type": "pin", "message_id": message["id"], "on": True})
    for socket in (alice_a, bob_b, carol_a):
        await wait_until(
            lambda s=socket: any(f.get("kind") == "pin" for f in s.of_type("update")),
            10,
            f"pin on {socket.name}",
        )
        pin = next(f for f in socket.of_type("update") if f["kind"] == "pin")
        assert pin["message"]["id"] == message["id"]
        assert pin["seq"] == message["seq"] + 1
    late = await sockets("carol", room, b)
    assert [m["id"] for m in late.hellos[0]["pinned"]] == [message["id"]]

    await alice_a.send_json({"type": "pin", "message_id": message["id"], "on": False})
    for socket in (alice_a, bob_b, carol_a, late):
        await wait_until(
            lambda s=socket: any(f.get("kind") == "unpin" for f in s.of_type("update")),
            10,
            f"unpin on {socket.name}",
        )
    # A member's pin is refused and reaches nobody.
    await bob_b.send_json({"type": "pin", "message_id": message["id"], "on": True})
    await wait_until(lambda: bool(bob_b.errors), 10, "bob's refusal")
    assert bob_b.errors[0]["code"] == "forbidden"
    assert len([f for f in carol_a.of_type("update") if f["kind"] == "pin"]) == 1


SLOW_MODE = """
from chat.models import Room
print(json.dumps(Room.objects.get(slug=args['slug']).slow_mode_seconds))
"""


async def test_slow_mode_holds_across_workers_and_every_socket_hears_it(
    stack, workers, room, sockets, password
):
    a, b = workers
    await join(a, "dave", password, room)
    dave_a = await sockets("dave", room, a)
    dave_b = await sockets("dave", room, b)
    set_ = await post(
        b, "alice", password, f"/chat/{room}/slow-mode/", {"seconds": "60"}, f"/chat/{room}/"
    )
    assert set_.status == 302
    assert await asyncio.to_thread(stack.shell, SLOW_MODE, slug=room) == 60
    for socket in (dave_a, dave_b):
        await wait_until(lambda s=socket: bool(s.of_type("slow_mode")), 10, "slow_mode frame")
        assert socket.of_type("slow_mode")[0]["seconds"] == 60
    await send_message(dave_a, "first", "slow-1")
    # The same user on the other worker waits too: the rule is the database's.
    await dave_b.send_json({"type": "send", "body": "second", "client_id": "slow-2"})
    await wait_until(lambda: bool(dave_b.errors), 10, "slow_mode error")
    error = dave_b.errors[0]
    assert (error["code"], error["client_id"], error["slow_mode"]) == ("slow_mode", "slow-2", 60)
    assert 55 <= error["retry_after"] <= 60
    assert not any(
        f["type"] == "message" and f["message"]["body"] == "second"
        for s in (dave_a, dave_b)
        for f in s.frames
    )


async def test_report_resolved_by_banning_closes_the_authors_sockets_on_both_workers(
    workers, room, sockets, password
):
    a, b = workers
    await join(a, "erin", password, room)
    await join(b, "frank", password, room)
    erin_a = await sockets("erin", room, a)
    erin_b = await sockets("erin", room, b)
    frank_b = await sockets("frank", room, b)
    message = await send_message(erin_a, "something nasty", "nasty-1")
    await frank_b.send_json(
        {"type": "report", "message_id": message["id"], "reason": "<i>nasty</i>"}
    )
    await wait_until(lambda: bool(frank_b.of_type("reported")), 10, "reported")
    assert not erin_a.of_type("reported") and not erin_b.of_type("reported")

    admin = await asyncio.to_thread(login, a.url, "admin", password)
    listing = await asyncio.to_thread(admin.get, "/admin/chat/report/?status__exact=open")
    assert listing.status == 200
    assert "&lt;i&gt;nasty&lt;/i&gt;" in listing.body
    report_id = _report_id(listing.body)
    resolved = await asyncio.to_thread(
        admin.post_form,
        "/admin/chat/report/",
        {"action": "resolve_ban", "_selected_action": [report_id]},
        page="/admin/chat/report/",
    )
    assert resolved.status == 302, resolved.body[:500]
    await wait_until(lambda: bool(erin_a.closes and erin_b.closes), 10, "erin's sockets")
    assert {erin_a.closes[0].code, erin_b.closes[0].code} == {4403}
    assert not frank_b.closes
    after = await asyncio.to_thread(admin.get, "/admin/chat/report/?status__exact=open")
    assert f'value="{report_id}"' not in after.body


def _report_id(listing: str) -> int:
    ids = re.findall(r'name="_selected_action" value="(\d+)"', listing)
    assert ids, listing[:2000]
    return int(ids[0])


async def test_a_block_refuses_a_direct_conversation_on_either_worker(workers, password):
    a, b = workers
    blocked = await post(
        a,
        "carol",
        password,
        "/accounts/settings/block/",
        {"username": "dave"},
        "/accounts/settings/",
    )
    assert blocked.status == 302
    try:
        for worker, user, other in ((b, "dave", "carol"), (a, "carol", "dave")):
            opened = await post(
                worker, user, password, "/chat/direct/", {"username": other}, "/chat/"
            )
            assert opened.status == 302 and opened.location == "/chat/", opened.location
    finally:
        unblocked = await post(
            b,
            "carol",
            password,
            "/accounts/settings/unblock/",
            {"username": "dave"},
            "/accounts/settings/",
        )
        assert unblocked.status == 302
    opened = await post(b, "dave", password, "/chat/direct/", {"username": "carol"}, "/chat/")
    assert opened.status == 302 and opened.location.startswith("/chat/dm-"), opened.location


async def test_report_resolved_by_deleting_removes_the_message_on_both_workers(
    workers, room, sockets, password
):
    a, b = workers
    await join(b, "erin", password, room)
    erin_b = await sockets("erin", room, b)
    alice_a = await sockets("alice", room, a)
    message = await send_message(erin_b, "delete me", "delete-me-1")
    await alice_a.send_json({"type": "report", "message_id": message["id"], "reason": "rude"})
    await wait_until(lambda: bool(alice_a.of_type("reported")), 10, "reported")

    admin = await asyncio.to_thread(login, b.url, "admin", password)
    listing = await asyncio.to_thread(admin.get, "/admin/chat/report/?status__exact=open")
    resolved = await asyncio.to_thread(
        admin.post_form,
        "/admin/chat/report/",
        {"action": "resolve_delete", "_selected_action": [_report_id(listing.body)]},
        page="/admin/chat/report/",
    )
    assert resolved.status == 302, resolved.body[:500]
    for socket in (alice_a, erin_b):
        await wait_until(
            lambda s=socket: any(f.get("kind") == "delete" for f in s.of_type("update")),
            10,
            f"deletion on {socket.name}",
        )
        deletion = next(f for f in socket.of_type("update") if f["kind"] == "delete")
        assert deletion["message"]["id"] == message["id"]
        assert deletion["message"]["deleted"] is True and deletion["message"]["body"] == ""
    assert not erin_b.closes  # deleting bans nobody
