"""The per-worker rounds (realtime.heartbeat): a failed round leaves the next
one to come, the task ends when there is nothing to do and starts again when
there is."""

import asyncio

from realtime.heartbeat import Heartbeat, Rounds


async def test_a_failed_round_is_logged_and_the_next_one_comes(caplog):
    rounds = []
    members = {"socket"}

    async def refresh():
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise OSError("redis away")

    beat = Heartbeat("test rounds", refresh, lambda: bool(members), every=lambda: 0.01)
    beat.ensure()
    async with asyncio.timeout(5):
        while len(rounds) < 3:
            await asyncio.sleep(0.01)
    assert "test rounds heartbeat failed" in caplog.text
    # Nothing left to do: the task ends; something again: it starts again.
    members.clear()
    await asyncio.wait_for(beat.task, 5)
    done = len(rounds)
    members.add("socket")
    beat.ensure()
    async with asyncio.timeout(5):
        while len(rounds) == done:
            await asyncio.sleep(0.01)
    members.clear()
    await asyncio.wait_for(beat.task, 5)


async def test_a_round_drops_sockets_that_ended_without_letting_go(caplog):
    class Socket:
        def __init__(self, released):
            self.released = released

    seen = []

    async def work():
        seen.append(set(rounds.sockets))

    rounds: Rounds[int] = Rounds("test rounds", work, every=lambda: 3600)
    live, ended = Socket(released=False), Socket(released=True)
    rounds.watch(live, 1)
    rounds.watch(ended, 2)
    await rounds._round()
    assert seen == [{live}] and rounds.sockets == {live: 1}
    assert "test rounds: dropping a socket that ended without cleanup" in caplog.text
    rounds.unwatch(live)
    await rounds._round()  # nothing left: no work
    assert len(seen) == 1
    rounds.heartbeat.task.cancel()
