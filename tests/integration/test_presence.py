"""Who is online in a room, across workers: a user with tabs on two workers
counts once, closing one tab keeps them online, and the users of a worker killed
with SIGKILL stop counting (within PRESENCE_TTL, set low for that test)."""

import asyncio
import signal

import pytest

from harness.checks import METRICS_TOKEN, ms, scrape, total, wait_until

pytestmark = pytest.mark.integration


def usernames(online: list[dict]) -> list[str]:
    return [user["username"] for user in online]


@pytest.fixture(scope="module")
def quiet_pair(stack):
    """Two workers whose presence heartbeat never runs during a test: what a
    socket's join or leave does to presence is all there is to see."""
    settings = {
        "PRESENCE_HEARTBEAT": "3600",
        "PRESENCE_TTL": "7200",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    pair = [stack.start_worker(serve=True, extra_env=settings) for _ in range(2)]
    yield pair
    for worker in pair:
        worker.stop()


async def two_tabs(workers, room, clients):
    """erin on A, dave on A and on B, frank on B; once erin has heard of all."""
    a, b = workers
    erin = await clients.room("erin", room, a, reconnect=False)
    dave_a = await clients.room("dave", room, a, reconnect=False)
    dave_b = await clients.room("dave", room, b, reconnect=False)
    frank = await clients.room("frank", room, b, reconnect=False)
    await wait_until(
        lambda: usernames(erin.online) == ["dave", "erin", "frank"],
        10,
        "erin hears who is online",
    )
    return erin, dave_a, dave_b, frank


async def test_a_user_with_tabs_on_two_workers_counts_once(quiet_pair, room, clients):
    a, b = quiet_pair
    erin, *_ = await two_tabs(quiet_pair, room, clients)
    for worker in (a, b):
        newcomer = await clients.room("carol", room, worker, reconnect=False)
        hello = newcomer.hellos[0]
        assert usernames(hello["online"]) == ["carol", "dave", "erin", "frank"]
        assert hello["online_count"] == 4
        await newcomer.stop()
    assert all(len(set(usernames(online))) == len(online) for _, online in erin.presence)


async def test_closing_one_of_two_tabs_keeps_the_user_online(quiet_pair, room, clients):
    _, b = quiet_pair
    erin, dave_a, dave_b, _ = await two_tabs(quiet_pair, room, clients)

    await dave_a.stop()
    # What a newcomer is told, and what erin hears once the change is announced.
    newcomer = await clients.room("carol", room, b, reconnect=False)
    await asyncio.sleep(2)  # announcements go out within about a second
    assert "dave" in usernames(newcomer.hellos[0]["online"])
    assert "dave" in usernames(erin.online)
    assert dave_b.connections == 1 and not dave_b.closes


def presence_turns(workers) -> dict[str, float]:
    """Both workers' turns to announce, by verdict (realtime.presence)."""
    texts = [scrape(worker) for worker in workers]
    return {
        verdict: sum(total(text, "relay_presence_turns_total", verdict=verdict) for text in texts)
        for verdict in ("new", "same", "wait")
    }


async def test_changes_on_two_workers_reach_a_socket_as_one_announcement(quiet_pair, room, clients):
    """Joins on both workers in the same moment: each worker has a change to
    announce, and the room hears them in one frame, not one per worker (two
    only when the second change came after the first announcement read the
    room, and then an interval apart)."""
    a, b = quiet_pair
    erin = await clients.room("erin", room, a, reconnect=False)
    # erin's own arrival is announced first (about a second after it).
    await wait_until(lambda: len(erin.presence) >= 2, 10, "erin's arrival is announced")
    heard_before = len(erin.presence)
    turns_before = await asyncio.to_thread(presence_turns, quiet_pair)

    await asyncio.gather(
        clients.room("dave", room, a, reconnect=False),
        clients.room("frank", room, b, reconnect=False),
    )
    # Each worker's turn ends in an announcement or in finding the room as
    # announced already ("wait" only puts it off).
    turns: dict[str, float] = {}

    async def decided() -> bool:
        turns.update(await asyncio.to_thread(presence_turns, quiet_pair))
        return turns["new"] + turns["same"] - turns_before["new"] - turns_before["same"] >= 2

    started = asyncio.get_running_loop().time()
    while not await decided():
        assert asyncio.get_running_loop().time() - started < 10, turns
        await asyncio.sleep(0.1)
    announced = turns["new"] - turns_before["new"]
    await wait_until(
        lambda: len(erin.presence) - heard_before == announced, 10, "every announcement heard"
    )
    crowd = erin.presence[heard_before:]
    assert usernames(crowd[-1][1]) == ["dave", "erin", "frank"], crowd
    assert announced <= 2, turns
    if announced == 2:
        assert crowd[1][0] - crowd[0][0] > 0.5, crowd


async def test_users_of_a_killed_worker_stop_counting(start_worker, room, clients, figure):
    # Short presence timings on two workers of their own: one of them is killed.
    settings = {"PRESENCE_TTL": "6", "PRESENCE_HEARTBEAT": "2"}
    survivor, doomed = start_worker(**settings), start_worker(**settings)
    erin = await clients.room("erin", room, survivor, reconnect=False)
    frank = await clients.room("frank", room, doomed, reconnect=False)
    dave = await clients.room("dave", room, doomed, reconnect=False)
    await wait_until(
        lambda: usernames(erin.online) == ["dave", "erin", "frank"], 10, "erin hears of all"
    )

    # The worker dies without a word (supervisor and child): no leave, no close.
    await asyncio.to_thread(doomed.stop, sig=signal.SIGKILL)
    took = await wait_until(
        lambda: usernames(erin.online) == ["erin"], 20, "the killed worker's users are gone"
    )
    assert frank.closes and dave.closes
    assert took < 6 + 2 + 4  # the TTL, a heartbeat, and slack for a busy box
    newcomer = await clients.room("bob", room, survivor, reconnect=False)
    assert usernames(newcomer.hellos[0]["online"]) == ["bob", "erin"]
    figure(
        f"presence: a SIGKILLed worker's users left `online` after {ms(took)} "
        "(PRESENCE_TTL 6 s, heartbeat 2 s; the defaults 45 s and 15 s)"
    )
