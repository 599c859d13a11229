"""Each socket's own fast send path (realtime.fastsend) is taken however Daphne is
launched: plain `daphne config.asgi:application`, Daphne's `manage.py runserver`
and `manage.py serve`. Under each, sockets are counted on the fast path in
/metrics with no fallback, every frame arrives once and in order, and a client
that stops reading for a while still gets every frame, in order, once it reads
again."""

import urllib.request

import pytest

from harness.checks import assert_every_message_once, send_steadily
from harness.clients import SESSION_COOKIE

pytestmark = pytest.mark.integration

COUNT = 120
BODY = 1500  # 180 KB in all: more than a small receive window and the kernel hold


def metrics_text(base_url: str, session_cookie: str) -> str:
    # base_url is one of the stack's own http://127.0.0.1 workers.
    request = urllib.request.Request(  # noqa: S310
        f"{base_url}/metrics", headers={"Cookie": f"{SESSION_COOKIE}={session_cookie}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()


def fast_path_sockets(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("relay_fast_path_sockets_total")
    )


def fallback_lines(text: str) -> list[str]:
    return [
        line for line in text.splitlines() if line.startswith("relay_fast_path_fallbacks_total")
    ]


@pytest.fixture(scope="module")
def launches(stack, pair):
    """The same app under the three launches; plain Daphne and runserver are
    stopped after this module."""
    daphne = stack.start_worker()
    runserver = stack.start_worker(runserver=True)
    yield {"daphne": daphne, "runserver": runserver, "serve": pair[1]}
    for worker in (daphne, runserver):
        worker.stop()


@pytest.mark.parametrize("launch", ["daphne", "runserver", "serve"])
async def test_frames_take_the_fast_path_in_order_under_every_launch(
    launch, launches, workers, room, clients, cookies
):
    worker = launches[launch]
    before = fast_path_sockets(metrics_text(worker.url, cookies["admin"]))
    alice = await clients.room("alice", room, worker, fallback=False)
    bob = await clients.room("bob", room, worker, fallback=False)
    # A small receive window: the server's frames pile up in its own buffer.
    slow = await clients.room("carol", room, worker, fallback=False, rcvbuf=4096)
    slow.pause_reading()
    await send_steadily(alice, COUNT, 200, f"fast path {launch}", pad_to=BODY)
    await alice.wait_acked(30)
    last = max(seq for seq, _ in alice.acked.values())
    await bob.wait_for_seq(last, 30)
    assert slow.contiguous < last  # it really was not reading
    slow.resume_reading()
    await slow.wait_for_seq(last, 30)
    assert_every_message_once([alice, bob, slow], [alice])
    for client in (alice, bob, slow):
        assert client.out_of_order == 0, client.name
        assert client.duplicates == 0, client.name
        arrived = [client.arrived[seq] for seq in sorted(client.arrived)]
        assert [how for _, how in arrived] == ["live"] * len(arrived), client.name
        times = [when for when, _ in arrived]
        assert times == sorted(times), client.name  # in seq order on the wire

    text = metrics_text(worker.url, cookies["admin"])
    assert "relay_sockets_open" in text  # the staff scrape worked
    assert fast_path_sockets(text) >= before + 3, text
    assert not fallback_lines(text)
