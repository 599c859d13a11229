"""realtime.presence on the real Redis store: announcements of a large group are
spaced out with its size, so a crowd joining at once costs presence frames in
proportion to the crowd, not to its square."""

import asyncio
import json
import time

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


def names(here: presence.Online) -> list[str]:
    return [user["username"] for user in here.users]


async def nothing(here: presence.Online) -> None:
    return None


async def join_elsewhere(group: str, user) -> None:
    """`user` comes online in `group` from another worker, straight in Redis."""
    from django.conf import settings

    from realtime.store import get_store

    await get_store().online_join(
        presence._room_key(group),
        presence._user_key(group, user.pk),
        presence._member(user.pk, user.username),
        "another-worker",
        time.time() + settings.PRESENCE_TTL,
        settings.PRESENCE_TTL,
        0,
    )


async def test_joins_here_take_the_last_read_list_for_a_while(monkeypatch, alice, bob, carol):
    monkeypatch.setattr(presence, "LIST_FRESH", 0.3)
    group = "chat.room.fresh"
    assert names(await presence.join(group, alice, nothing)) == ["alice"]
    await join_elsewhere(group, carol)

    # Within LIST_FRESH: alice's read serves bob's hello (carol, who came from
    # another worker meanwhile, is in the count and the next announcement)...
    here = await presence.join(group, bob, nothing)
    assert names(here) == ["alice", "bob"] and here.count == 3

    # ...and once it is older, the next join reads the list again.
    await asyncio.sleep(0.35)
    dave = await db(type(alice).objects.create_user)(username="dave", password="pw-for-tests-1")
    assert names(await presence.join(group, dave, nothing)) == ["alice", "bob", "carol", "dave"]
    for user in (alice, bob, dave):
        await presence.leave(group, user)


async def test_a_user_leaving_here_leaves_the_kept_list_at_once(monkeypatch, alice, bob, carol):
    monkeypatch.setattr(presence, "LIST_FRESH", 60)
    group = "chat.room.leaving"
    await presence.join(group, alice, nothing)
    await presence.join(group, bob, nothing)
    await presence.leave(group, bob)

    here = await presence.join(group, carol, nothing)
    assert names(here) == ["alice", "carol"] and here.count == 2
    for user in (alice, carol):
        await presence.leave(group, user)


async def test_joins_that_share_the_kept_list_share_its_encoding(monkeypatch, alice, bob, carol):
    """A crowd's hellos embed the list as JSON encoded once, not once per join."""
    monkeypatch.setattr(presence, "LIST_FRESH", 60)
    monkeypatch.setattr(presence, "ONLINE_LIST_MAX", 2)
    group = "chat.room.encoded"
    first = await presence.join(group, alice, nothing)
    second = await presence.join(group, bob, nothing)
    full = await presence.join(group, carol, nothing)  # the list has no room for carol
    for here in (first, second, full):
        assert json.loads(here.users_json()) == here.users
    assert full.users is second.users
    assert full.users_json() is second.users_json()

    # A list made anew (bob left) is encoded anew.
    await presence.leave(group, bob)
    again = await presence.join(group, bob, nothing)
    assert names(again) == ["alice", "bob"] and json.loads(again.users_json()) == again.users
    for user in (alice, bob, carol):
        await presence.leave(group, user)


async def announce_elsewhere(group: str, interval: float) -> str:
    """Another worker's turn to announce `group`; return its verdict."""
    from realtime.store import get_store

    turn = await get_store().online_announce(
        presence._room_key(group), presence._told_key(group), presence.ONLINE_LIST_MAX, interval, 60
    )
    return turn.verdict


class Turns:
    """This worker's turns (realtime.presence, its store seen through this),
    and what it announced."""

    def __init__(self, monkeypatch) -> None:
        from realtime.store import get_store

        self.store = get_store()
        self.verdicts: list[str] = []
        self.announced: list[tuple[float, list[str]]] = []
        monkeypatch.setattr(presence, "get_store", lambda: self)

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    async def online_announce(self, *args, **kwargs):
        turn = await self.store.online_announce(*args, **kwargs)
        self.verdicts.append(turn.verdict)
        return turn

    async def on_change(self, here: presence.Online) -> None:
        self.announced.append((time.monotonic(), names(here)))

    async def until(self, verdicts: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.verdicts) < verdicts:
            assert time.monotonic() < deadline, self.verdicts
            await asyncio.sleep(0.01)


async def test_a_change_another_worker_announced_is_not_announced_again(monkeypatch, alice, bob):
    # Far longer than the two Redis calls below take, so they come before
    # this worker's turn.
    monkeypatch.setattr(presence, "ANNOUNCE_DELAY", 0.5)
    group = "chat.room.told-elsewhere"
    turns = Turns(monkeypatch)
    await presence.join(group, alice, turns.on_change)
    # Before this worker's turn, another one announces the room (its own
    # change, say), alice included.
    await join_elsewhere(group, bob)
    assert await announce_elsewhere(group, 0.5) == "new"

    await turns.until(1)
    assert turns.verdicts == ["same"] and turns.announced == []
    await presence.leave(group, alice)


async def test_a_change_waits_for_the_interval_after_another_workers_announcement(
    monkeypatch, alice, bob, carol
):
    monkeypatch.setattr(presence, "ANNOUNCE_DELAY", 0.1)
    group = "chat.room.busy-elsewhere"
    turns = Turns(monkeypatch)
    # Another worker announces the room; its interval (a larger room's, say)
    # is longer than this worker's delay.
    await join_elsewhere(group, bob)
    assert await announce_elsewhere(group, 1.0) == "new"
    told_at = time.monotonic()
    await presence.join(group, alice, turns.on_change)

    await turns.until(2)
    assert turns.verdicts == ["wait", "new"]
    [(when, users)] = turns.announced
    assert users == ["alice", "bob"]
    assert when - told_at >= 1.0 - 0.02  # Redis's clock against this process's
    await presence.leave(group, alice)
