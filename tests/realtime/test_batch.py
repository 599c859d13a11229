"""realtime.batch: writes waiting together run as one batch, writes coming
steadily gather for `linger` from the first one's arrival, and what a batch
commits is pushed from the event loop before anyone waiting is answered."""

import asyncio
import threading
import time

import pytest
from channels.layers import get_channel_layer
from django.db import connections, transaction

from harness.waiting import wait_for
from realtime import push
from realtime.batch import Batcher

pytestmark = pytest.mark.django_db(transaction=True)


def _pushing(items: list[str], fail_after_commit: bool = False) -> list:
    """A handler that commits a push per item, then answers each (or raises)."""
    pushes = []
    for item in items:
        with transaction.atomic():
            pushes.append(push.send_on_commit("batch-test", {"type": "test.item", "item": item}))
    if fail_after_commit:
        raise RuntimeError("the handler failed after its commits")
    return [
        ValueError(item) if item == "bad" else (item, p)
        for item, p in zip(items, pushes, strict=True)
    ]


@pytest.fixture
def make_batcher():
    """Batchers of a test's own; their threads give their connections back
    and end with the test (a thread holding a pooled connection for the rest
    of the run would leave the pool short)."""
    made: list[Batcher] = []

    def make(handler, **options) -> Batcher:
        batcher: Batcher = Batcher(handler, name="test-batch", holding=push.holding, **options)
        made.append(batcher)
        return batcher

    yield make
    for batcher in made:
        batcher.executor.submit(connections.close_all).result()
        batcher.executor.shutdown()


async def test_writes_waiting_together_are_one_batch_answered_in_order(make_batcher, sent_events):
    batcher = make_batcher(_pushing)
    futures = [batcher.enqueue(item) for item in ("a", "bad", "b")]
    done = await asyncio.gather(*futures, return_exceptions=True)

    assert batcher.batches == 1
    (a, a_push), refused, (b, b_push) = done
    assert (a, b) == ("a", "b") and isinstance(refused, ValueError)
    # Answered once the layer took the batch's pushes.
    assert a_push.delivered and b_push.delivered
    assert [event["item"] for group, event in sent_events if group == "batch-test"] == [
        "a",
        "bad",
        "b",
    ]


async def test_a_batchs_pushes_go_out_from_its_writer_task_without_a_hop(make_batcher, monkeypatch):
    layer = get_channel_layer()
    sending_tasks = []
    original = layer.group_send_many

    async def group_send_many(messages):
        # A hop from the writer's thread would run this in a task of its own.
        sending_tasks.append(asyncio.current_task().get_name())
        await original(messages)

    monkeypatch.setattr(layer, "group_send_many", group_send_many)
    batcher = make_batcher(_pushing)
    item, pushed = await batcher.submit("a")

    assert item == "a" and pushed.delivered
    assert sending_tasks == ["test-batch writer"]


async def test_what_committed_before_the_handler_failed_is_still_pushed(make_batcher, sent_events):
    batcher = make_batcher(lambda items: _pushing(items, fail_after_commit=True))
    results = await asyncio.gather(
        batcher.enqueue("a"), batcher.enqueue("b"), return_exceptions=True
    )

    assert all(isinstance(r, RuntimeError) for r in results)
    assert [event["item"] for group, event in sent_events if group == "batch-test"] == ["a", "b"]


class _Recording:
    """A handler that records its batches; `hold` keeps the next batch in the
    writer's thread until `release`."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.hold = threading.Event()
        self.held = threading.Event()
        self.released = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        if self.hold.is_set():
            self.hold.clear()
            self.held.set()
            self.released.wait(10)
        self.batches.append(list(items))
        return items


async def _storing_a_then_b(batcher: Batcher, handler: _Recording) -> tuple[asyncio.Future, float]:
    """Queue "b" while "a" is in the writer's thread (so "b" came close after
    "a"); return b's future and when it was queued, once "a" is stored."""
    handler.hold.set()
    a = batcher.enqueue("a")
    await asyncio.to_thread(handler.held.wait, 10)
    queued = time.monotonic()
    b = batcher.enqueue("b")
    handler.released.set()
    assert await a == "a"
    return b, queued


async def test_a_write_coming_steadily_gathers_its_batch_for_the_linger(make_batcher):
    handler = _Recording()
    batcher = make_batcher(handler, linger=0.5)
    b, queued = await _storing_a_then_b(batcher, handler)

    # Without the wait, "b" would be stored alone as soon as "a" was; its batch
    # gathers until the linger from its arrival, however long "a" took.
    assert await b == "b"
    assert time.monotonic() - queued >= 0.45
    assert handler.batches == [["a"], ["b"]]


async def test_writes_arriving_while_a_batch_gathers_join_it(make_batcher):
    handler = _Recording()
    batcher = make_batcher(handler, linger=0.5)
    b, queued = await _storing_a_then_b(batcher, handler)
    c = batcher.enqueue("c")
    d = batcher.enqueue("d")

    assert await asyncio.wait_for(asyncio.gather(b, c, d), 10) == ["b", "c", "d"]
    # Company does not end the gathering: the linger from the first's arrival does.
    assert time.monotonic() - queued >= 0.45
    assert handler.batches == [["a"], ["b", "c", "d"]]


async def test_a_full_batch_waits_for_no_one(make_batcher):
    handler = _Recording()
    batcher = make_batcher(handler, linger=60, max_items=2)
    handler.hold.set()
    a = batcher.enqueue("a")
    await asyncio.to_thread(handler.held.wait, 10)
    later = [batcher.enqueue(item) for item in ("b", "c", "d")]  # while "a" is stored
    handler.released.set()

    # b and c fill a batch; d, alone after them, gathers (a minute) and is cancelled.
    assert await asyncio.wait_for(asyncio.gather(a, *later[:2]), 10) == ["a", "b", "c"]
    assert handler.batches == [["a"], ["b", "c"]]
    writer = batcher._queues[asyncio.get_running_loop()].task
    assert writer is not None
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await later[2]


async def test_a_gathering_batch_goes_once_it_is_full(make_batcher):
    handler = _Recording()
    batcher = make_batcher(handler, linger=60, max_items=2)
    b, _ = await _storing_a_then_b(batcher, handler)
    queue = batcher._queues[asyncio.get_running_loop()]
    await wait_for(lambda: queue.gathering is not None, "b's batch gathering")
    c = batcher.enqueue("c")

    # Gathering out its linger would outlast this.
    assert await asyncio.wait_for(asyncio.gather(b, c), 10) == ["b", "c"]
    assert handler.batches == [["a"], ["b", "c"]]


async def test_a_batch_whose_first_write_waited_the_linger_already_goes_at_once(
    make_batcher, monkeypatch
):
    loop = asyncio.get_running_loop()
    handler = _Recording()
    batcher = make_batcher(handler, linger=60)
    handler.hold.set()
    a = batcher.enqueue("a")
    await asyncio.to_thread(handler.held.wait, 10)
    later = [batcher.enqueue("b"), batcher.enqueue("c")]  # while "a" is stored
    # "a" took longer than the linger (the loop's clock moves on by it): a backlog.
    real_time = loop.time
    monkeypatch.setattr(loop, "time", lambda: real_time() + 61)
    handler.released.set()

    assert await asyncio.wait_for(asyncio.gather(a, *later), 10) == ["a", "b", "c"]
    assert handler.batches == [["a"], ["b", "c"]]


async def test_a_write_after_a_quiet_spell_goes_at_once(make_batcher):
    handler = _Recording()
    batcher = make_batcher(handler, linger=60)

    assert await asyncio.wait_for(batcher.enqueue("a"), 10) == "a"
    assert handler.batches == [["a"]]


async def test_writes_gathering_are_cancelled_with_the_writer(make_batcher):
    handler = _Recording()
    batcher = make_batcher(handler, linger=60)
    b, _ = await _storing_a_then_b(batcher, handler)
    writer = batcher._queues[asyncio.get_running_loop()].task
    assert writer is not None

    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b
    assert handler.batches == [["a"]]
