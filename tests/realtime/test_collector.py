"""realtime.collector: once the application is loaded (config/asgi.py, whatever
launches it), what it loaded is out of the garbage collector's sight, full
collections are spaced out, and every pass is timed into relay_gc_pause_seconds."""

import asyncio
import gc
import threading

import pytest

from realtime import collector, metrics


@pytest.fixture
def settled():
    """collector.settle() as the app runs it, Python's collector as it was afterwards."""
    before = gc.get_threshold()
    had_callback = collector._pauses.timed in gc.callbacks
    gc.unfreeze()
    try:
        collector.settle()
        collector._pauses.observe()  # what passes before this test noted
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        if not had_callback:
            while collector._pauses.timed in gc.callbacks:
                gc.callbacks.remove(collector._pauses.timed)


def full_passes() -> float:
    series = metrics.here(metrics.gc_pause_seconds, "2")
    return sum(
        sample.value
        for metric in series.collect()
        for sample in metric.samples
        if sample.name.endswith("_count")
    )


def test_the_loaded_application_is_frozen_and_full_collections_spaced_out(settled):
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[2] == collector.FULL_AFTER


def test_settling_twice_times_each_pass_once(settled):
    collector.settle()
    assert gc.callbacks.count(collector._pauses.timed) == 1


def test_a_pass_in_the_event_loop_reaches_the_histogram_on_the_loop_s_next_turn(settled):
    async def collect_then_turn() -> tuple[float, float]:
        gc.collect()
        # Noted by the callback, not observed from inside the collector.
        during = full_passes()
        await asyncio.sleep(0)
        return during, full_passes()

    before = full_passes()
    during, after = asyncio.run(collect_then_turn())
    assert during == before
    assert after == before + 1


def test_a_pass_in_a_thread_without_a_loop_waits_for_the_loop_thread_s_next_pass(settled):
    before = full_passes()
    collecting = threading.Thread(target=gc.collect)
    collecting.start()
    collecting.join()
    assert full_passes() == before  # noted; no loop there to observe it

    async def young_pass_then_turn() -> None:
        gc.collect(0)
        await asyncio.sleep(0)

    asyncio.run(young_pass_then_turn())
    assert full_passes() == before + 1
