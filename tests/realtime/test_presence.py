"""realtime.presence on the real Redis store: announcements of a large group are
spaced out with its size, so a crowd joining at once costs presence frames in
proportion to the crowd, not to its square."""

import asyncio

import pytest

from harness.sockets import db
from realtime import presence

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_interval_grows_with_the_group_past_the_frame_budget(monkeypatch):
    monkeypatch.setattr(presence, "ANNOUNCE_FRAMES", 1000)
    assert presence.announce_delay(0) == presence.ANNOUNCE_DELAY
    assert presence.announce_delay(1000) == presence.ANNOUNCE_DELAY
    assert presence.announce_delay(4000) == 4 * presence.ANNOUNCE_DELAY


async def test_a_crowd_joining_at_once_is_announced_within_the_frame_budget(monkeypatch, make_user):
    monkeypatch.setattr(presence, "ANNOUNCE_DELAY", 0.05)
    monkeypatch.setattr(presence, "ANNOUNCE_FRAMES", 10)
    group = "chat.room.crowd"
    announced: list[tuple[float, int]] = []

    async def on_change(here: presence.Online) -> None:
        announced.append((asyncio.get_running_loop().time(), here.count))

    users = [await db(make_user)(f"crowd{n:02}") for n in range(40)]
    started = asyncio.get_running_loop().time()
    for user in users:
        await presence.join(group, user, on_change)
    deadline = started + 5
    while not announced or announced[-1][1] < 40:
        assert asyncio.get_running_loop().time() < deadline, announced
        await asyncio.sleep(0.01)
    # Every announcement reaches the whole group: the next one waits the longer,
    # the larger the group it last counted, however fast the crowd joins.
    previous_at, previous_count = started, 0
    for when, count in announced:
        assert when - previous_at >= presence.announce_delay(previous_count) - 0.01, announced
        previous_at, previous_count = when, count
    assert len(announced) < len(users) / 4  # not one per join
    for user in users:
        await presence.leave(group, user)
