"""The per-worker rounds (realtime.heartbeat): a failed round leaves the next
one to come, the task ends when there is nothing to do and starts again when
there is."""

import asyncio

from realtime.heartbeat import Heartbeat


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
