"""Edits, deletions and reactions across two `manage.py serve` workers: a
client whose worker was killed resumes on the other and gets every change made
meanwhile exactly once, in seq order, and ends with the room's true state."""

import asyncio
import signal

import pytest

from harness.checks import wait_until
from harness.clients import Socket

pytestmark = pytest.mark.integration


class EventClient(Socket):
    """A room socket that applies `message` and `update` frames by seq and keeps
    every seq it was sent after hello, to check each came once and in order."""

    kind = "events"

    def __init__(self, name: str, urls: list[str], slug: str, cookie: str, after: int) -> None:
        super().__init__(name, urls, cookie, reconnect=False)
        self.slug = slug
        self.after = after
        self.position = after
        self.state: dict[int, dict] = {}
        self.sent_seqs: list[int] = []
        self.frames: list[dict] = []

    def path(self) -> str:
        return f"/ws/chat/{self.slug}/?after={self.after}"

    async def on_hello(self, frame: dict) -> None:
        for message in frame["messages"]:
            self.state[message["id"]] = message
        self.position = frame["last_seq"]

    async def on_frame(self, frame: dict) -> None:
        self.frames.append(frame)
        if frame["type"] == "message":
            self.sent_seqs.append(frame["message"]["seq"])
        elif frame["type"] == "update":
            self.sent_seqs.append(frame["seq"])
        else:
            return
        self.state[frame["message"]["id"]] = frame["message"]
        self.position = max(self.position, self.sent_seqs[-1])


async def test_resume_on_the_other_worker_after_a_kill_gets_every_change_once(
    workers, room, cookies
):
    a, b = workers
    opened: list[EventClient] = []

    async def client(user: str, worker, after: int) -> EventClient:
        socket = EventClient(f"{user}@{worker.port}", [worker.url], room, cookies[user], after)
        opened.append(socket)
        return await socket.start()

    async def act(frame: dict, seq: int) -> None:
        await alice.send_json(frame)
        await wait_until(lambda: alice.position >= seq, 10, f"seq {seq} on alice's socket")

    try:
        alice = await client("alice", a, 0)
        bob = await client("bob", b, 0)
        for n in range(1, 4):
            await act({"type": "send", "body": f"message {n}", "client_id": f"c{n}"}, n)
        await wait_until(lambda: bob.position == 3, 10, "bob has seq 3 live")
        ids = {m["body"]: m["id"] for m in bob.state.values()}
        left_at = bob.position

        await asyncio.to_thread(b.stop, sig=signal.SIGKILL)
        await wait_until(lambda: bob.closes != [], 10, "bob's socket dropped")

        # While bob is away, on worker A:
        first, second, third = ids["message 1"], ids["message 2"], ids["message 3"]
        await act({"type": "edit", "message_id": first, "body": "message 1, edited"}, 4)
        await act({"type": "react", "message_id": second, "emoji": "👍", "on": True}, 5)
        await act({"type": "edit", "message_id": third, "body": "secret"}, 6)
        await act({"type": "delete", "message_id": third}, 7)
        await act({"type": "send", "body": "message 4", "client_id": "c4", "reply_to": first}, 8)

        back = await client("bob", a, left_at)
        await act({"type": "react", "message_id": first, "emoji": "🎉", "on": True}, 9)
        await wait_until(lambda: back.position == 9, 10, "bob back at seq 9")

        # Hello carried the new message; then each change to what bob had,
        # once, in order; then live.
        assert [m["seq"] for m in back.hellos[0]["messages"]] == [8]
        assert back.sent_seqs == [4, 5, 6, 7, 9]
        assert [f["kind"] for f in back.frames if f["type"] == "update"] == [
            "edit",
            "reaction",
            "edit",
            "delete",
            "reaction",
        ]
        assert "secret" not in str(back.frames) + str(back.hellos)
        # Bob ends where a fresh page would start.
        fresh = await client("carol", a, 0)
        await fresh.send_json({"type": "catch_up", "after": 0})
        # (A presence frame may come first: carol's own arrival.)
        await wait_until(
            lambda: any(f["type"] == "catch_up" for f in fresh.frames), 10, "catch_up answered"
        )
        [page] = [f for f in fresh.frames if f["type"] == "catch_up"]
        assert page["has_more"] is False
        assert [e.get("seq") or e["message"]["seq"] for e in page["events"]] == list(range(1, 10))
        truth = {}
        for event in page["events"]:
            truth[event["message"]["id"]] = event["message"]
        assert back.state == {i: m for i, m in truth.items() if i in back.state}
        assert truth[third]["deleted"] is True and truth[third]["body"] == ""
        assert back.state[first]["reactions"] == [
            {"emoji": "🎉", "count": 1, "user_ids": [alice.hellos[0]["user"]["id"]]}
        ]
    finally:
        await asyncio.gather(*(socket.stop() for socket in opened))
