"""realtime.batch: writes waiting together run as one batch, and what a batch
commits is pushed from the event loop before anyone waiting is answered."""

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.db import connections, transaction

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

    def make(handler) -> Batcher:
        batcher: Batcher = Batcher(handler, name="test-batch", holding=push.holding)
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
