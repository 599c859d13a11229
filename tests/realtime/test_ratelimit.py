"""Sliding-window rate limits (realtime.ratelimit) on the real Redis store, with
time driven by the test, and on the in-memory store with the same expectations."""

import asyncio
import logging
import math
import random

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from harness.processes import free_port
from realtime import ratelimit
from realtime.store import MemoryStore, RedisStore

T0 = 1_800_000_000.0  # a fixed "now": the tests pass every time explicitly


@pytest.fixture(params=["redis", "memory"])
async def store(request, redis_url):
    if request.param == "memory":
        yield MemoryStore()
        return
    store = RedisStore([redis_url])
    yield store
    await store.aclose()


async def attempt(store, at: float, *, limit=20, window=10, cost=1, key="rl:send:1"):
    return await store.sliding_window(key, limit=limit, window=window, cost=cost, now=T0 + at)


async def test_no_double_burst_across_a_window_boundary(store):
    # The fixed window's hole: 20 at the end of one window, 20 at the start of the next.
    first = [await attempt(store, 9.9) for _ in range(20)]
    second = [await attempt(store, 10.1) for _ in range(20)]
    assert all(taken for taken, _, _ in first)
    assert not any(taken for taken, _, _ in second)
    # retry_after is the real wait: the first burst leaves the window at 19.9.
    assert second[0][1] == pytest.approx(9.8)
    assert not (await attempt(store, 19.8))[0]
    assert (await attempt(store, 19.9))[0]


async def test_any_window_lets_through_at_most_the_limit(store):
    """Random attempt times over a minute: no 10 s span holds more than 20 taken,
    and each refusal's retry_after is exactly when the same attempt is taken."""
    rng = random.Random(11)
    times = sorted(rng.uniform(0, 60) for _ in range(400))
    taken_at = []
    for at in times:
        taken, retry_after, _ = await attempt(store, at)
        if taken:
            taken_at.append(at)
        else:
            assert 0 < retry_after <= 10
            # The oldest of the window's 20 leaves it at `at + retry_after`.
            in_window = [t for t in taken_at if t > at - 10]
            assert len(in_window) == 20
            assert in_window[0] + 10 - at == pytest.approx(retry_after, abs=1e-6)
    for start in taken_at:
        assert len([t for t in taken_at if start <= t < start + 10]) <= 20
    assert len(taken_at) >= 6 * 20 - 20  # busy all minute: about 20 per 10 s


async def test_a_refused_attempt_does_not_use_up_the_limit(store):
    for _ in range(3):
        assert (await attempt(store, 0, limit=3))[0]
    for n in range(50):
        assert not (await attempt(store, 1 + n / 10, limit=3))[0]
    assert (await attempt(store, 10, limit=3))[0]


async def test_attempts_count_refusals_for_flood_detection(store):
    results = [await attempt(store, n / 100, limit=3) for n in range(10)]
    assert [attempts for _, _, attempts in results] == list(range(1, 11))


async def test_costs_weigh_against_the_budget(store):
    # A byte budget: 1,000 per 10 s.
    assert (await attempt(store, 0, limit=1000, cost=600))[0]
    assert (await attempt(store, 1, limit=1000, cost=300))[0]
    taken, retry_after, _ = await attempt(store, 2, limit=1000, cost=300)
    assert not taken and retry_after == pytest.approx(8)  # when the 600 leave
    assert (await attempt(store, 2, limit=1000, cost=100))[0]  # what is left fits


async def test_keys_are_per_user_and_action(store):
    assert (await attempt(store, 0, limit=1, key="rl:send:1"))[0]
    assert not (await attempt(store, 0, limit=1, key="rl:send:1"))[0]
    assert (await attempt(store, 0, limit=1, key="rl:send:2"))[0]
    assert (await attempt(store, 0, limit=1, key="rl:history:1"))[0]


async def test_workers_racing_for_the_last_units_take_exactly_the_limit(redis_url):
    """Four stores (four workers' connections) at once: 20 taken of 200, never more."""
    stores = [RedisStore([redis_url]) for _ in range(4)]
    results = await asyncio.gather(
        *[
            store.sliding_window("rl:send:9", limit=20, window=10)
            for _ in range(50)
            for store in stores
        ]
    )
    assert sum(taken for taken, _, _ in results) == 20
    for store in stores:
        await store.aclose()


async def test_without_a_time_redis_clock_decides(redis_url):
    store = RedisStore([redis_url])
    for _ in range(2):
        assert (await store.sliding_window("rl:send:3", limit=2, window=10))[0]
    taken, retry_after, _ = await store.sliding_window("rl:send:3", limit=2, window=10)
    assert not taken and 9 < retry_after <= 10
    await store.aclose()


async def test_take_rounds_retry_after_up_and_flags_floods():
    for n in range(3):
        assert (await ratelimit.take("send", 5, "3/10", now=T0 + n)).allowed
    verdict = await ratelimit.take("send", 5, "3/10", now=T0 + 3.01)
    assert verdict == ratelimit.Verdict(allowed=False, retry_after=7.0, flooding=False, attempts=4)
    for n in range(5):
        verdict = await ratelimit.take("send", 5, "3/10", now=T0 + 4 + n / 10)
    assert not verdict.flooding  # the 9th attempt in the window: 3x, not over it
    verdict = await ratelimit.take("send", 5, "3/10", now=T0 + 5)
    assert verdict.flooding


async def test_take_with_no_rate_allows_everything():
    assert (await ratelimit.take("send", 5, "0")).allowed
    assert (await ratelimit.take("send", 5, None)).allowed


async def test_limits_fail_open_when_redis_is_away(caplog, monkeypatch):
    monkeypatch.setattr(ratelimit, "_warned_at", -math.inf)  # no warning given yet
    with (
        override_settings(REDIS_HOSTS=[f"redis://127.0.0.1:{free_port()}/0"]),
        caplog.at_level(logging.WARNING, logger="realtime.ratelimit"),
    ):
        for _ in range(5):
            assert (await ratelimit.take("send", 5, "1/10")).allowed
    # Once, not once per frame.
    assert caplog.text.count("rate limits unavailable") == 1


def test_a_mistyped_rate_stops_the_process_at_start():
    with (
        override_settings(CHAT_HISTORY_RATE_LIMIT="30 per 10"),
        pytest.raises(ImproperlyConfigured, match="CHAT_HISTORY_RATE_LIMIT"),
    ):
        ratelimit.check_settings()
    ratelimit.check_settings()
