"""Helpers shared by the notification socket tests."""

from channels.db import database_sync_to_async
from django.contrib.auth.models import Permission

db = database_sync_to_async


async def receive(communicator, frame_type: str | None = None, timeout: float = 5) -> dict:
    """Return the next frame, asserting its type when given."""
    frame = await communicator.receive_json_from(timeout=timeout)
    if frame_type is not None:
        assert frame["type"] == frame_type, frame
    return frame


async def assert_silent(communicator, timeout: float = 0.3) -> None:
    """Assert nothing more reaches this socket (a ping round trip flushes what is queued)."""
    await communicator.send_json_to({"type": "ping"})
    assert (await receive(communicator))["type"] == "pong"
    assert await communicator.receive_nothing(timeout=timeout)


def broadcast_permissions(*actions: str) -> list[Permission]:
    return list(
        Permission.objects.filter(
            content_type__app_label="notifications",
            codename__in=[f"{action}_broadcast" for action in actions],
        )
    )
