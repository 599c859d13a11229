"""Waiting for a condition in an async test, instead of sleeping and deciding."""

import asyncio
from collections.abc import Callable


async def wait_for(predicate: Callable[[], bool], what: str = "", timeout: float = 5) -> None:
    """Return once `predicate()` is true; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def hold(monkeypatch, owner: object, name: str) -> asyncio.Event:
    """Make the coroutine function `owner.name` wait until the returned event
    is set, then run as before: a call (a database read) held on purpose, to
    force the timing a test is about."""
    release = asyncio.Event()
    original = getattr(owner, name)

    async def held(*args, **kwargs):
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return release
