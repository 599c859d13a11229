"""Fixtures of the chat tests: the user's own stream, and a record of what
reached the channel layer."""

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer

from harness.sockets import receive


@pytest.fixture
def sent_events(monkeypatch):
    """Record every (group, event) the channel layer is asked to deliver."""
    sent: list[tuple[str, dict]] = []
    layer = get_channel_layer()
    original = layer.group_send

    async def group_send(group, message):
        sent.append((group, message))
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)
    return sent


@pytest_asyncio.fixture
async def open_stream(connect_ws):
    """Open the user's own stream, `/ws/notifications/`; return (communicator, hello)."""

    async def open_(user, query: str = ""):
        communicator, connected, _ = await connect_ws(f"/ws/notifications/{query}", user)
        assert connected
        return communicator, await receive(communicator, "hello")

    return open_
