"""realtime.batch: writes waiting together run as one batch, and what a batch
commits is pushed from the event loop before anyone waiting is answered."""

import asyncio

import pytest
from django.db import transaction

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


async def test_writes_waiting_together_are_one_batch_answered_in_order(sent_events):
    batcher: Batcher = Batcher(_pushing, name="test-batch", holding=push.holding)
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


async def test_a_batchs_pushes_go_out_from_the_loop_without_a_hop(monkeypatch, sent_events):
    def no_hop(*args, **kwargs):
        raise AssertionError("a batch's pushes hopped from its thread to the loop")

    monkeypatch.setattr(push, "async_to_sync", no_hop)
    batcher: Batcher = Batcher(_pushing, name="test-batch", holding=push.holding)
    item, pushed = await batcher.submit("a")

    assert item == "a" and pushed.delivered
    assert [event["item"] for group, event in sent_events if group == "batch-test"] == ["a"]


async def test_what_committed_before_the_handler_failed_is_still_pushed(sent_events):
    batcher: Batcher = Batcher(
        lambda items: _pushing(items, fail_after_commit=True),
        name="test-batch",
        holding=push.holding,
    )
    results = await asyncio.gather(
        batcher.enqueue("a"), batcher.enqueue("b"), return_exceptions=True
    )

    assert all(isinstance(r, RuntimeError) for r in results)
    assert [event["item"] for group, event in sent_events if group == "batch-test"] == ["a", "b"]
