"""/healthz against a real `manage.py serve` worker: probes, which need no login,
leave nothing behind in Redis."""

import time

import pytest
import redis

from harness.stack import healthz_status

pytestmark = pytest.mark.integration

PROBES = 200


def test_healthz_probes_leave_no_redis_subscription_behind(stack, workers, figure):
    a, _ = workers
    server = redis.Redis.from_url(stack.redis.url)
    before = set(server.pubsub_channels("*"))
    rss_before = a.rss_kib()
    started = time.monotonic()
    statuses = [healthz_status(a.url) for _ in range(PROBES)]
    took = time.monotonic() - started
    after = set(server.pubsub_channels("*"))
    assert statuses == [200] * PROBES
    # Sockets of earlier tests may still be leaving their groups, so channels can
    # only have gone; a probe's own channel would be a new name.
    assert after - before == set()
    assert len(after) <= len(before)
    figure(
        f"/healthz: {PROBES} probes on one serve worker in {took * 1000 / PROBES:.1f} ms each, "
        f"Redis pub/sub channels {len(before)} -> {len(after)}, "
        f"worker RSS {rss_before} -> {a.rss_kib()} KiB"
    )
