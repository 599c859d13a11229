"""The speed tricks are taken in real `manage.py serve` workers: no fallback is
counted in /metrics once sockets have connected and a message went out."""

import urllib.request

import pytest

from harness.checks import send_steadily
from harness.clients import SESSION_COOKIE

pytestmark = pytest.mark.integration


def metrics_text(base_url: str, session_cookie: str) -> str:
    # base_url is one of the stack's own http://127.0.0.1 workers.
    request = urllib.request.Request(  # noqa: S310
        f"{base_url}/metrics", headers={"Cookie": f"{SESSION_COOKIE}={session_cookie}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()


async def test_serve_workers_frame_once_and_write_eagerly(workers, room, clients, cookies):
    a, b = workers
    alice = await clients.room("alice", room, a, fallback=False)
    bob = await clients.room("bob", room, b, fallback=False)
    await send_steadily(alice, 2, 20, "fast path")
    await alice.wait_acked(10)
    for client in (alice, bob):
        await client.wait_for_seq(max(seq for seq, _ in alice.acked.values()), 10)
    for worker in workers:
        text = metrics_text(worker.url, cookies["admin"])
        assert "relay_sockets_open" in text  # the staff scrape worked
        fallbacks = [line for line in text.splitlines() if "relay_fast_path_fallbacks" in line]
        assert not [line for line in fallbacks if not line.startswith("#")], fallbacks
