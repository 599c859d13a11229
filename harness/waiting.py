"""Waiting for a condition in an async test, instead of sleeping and deciding."""

import asyncio
from collections.abc import Callable


async def wait_for(predicate: Callable[[], bool], what: str = "", timeout: float = 5) -> None:
    """Return once `predicate()` is true; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
