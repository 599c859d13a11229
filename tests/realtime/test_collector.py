"""realtime.collector: once the application is loaded (config/asgi.py, whatever
launches it), what it loaded is out of the garbage collector's sight and full
collections are spaced out."""

import gc


def test_the_loaded_application_is_frozen_and_full_collections_spaced_out():
    before = gc.get_threshold()
    try:
        from realtime import collector

        gc.unfreeze()
        collector.settle()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], collector.FULL_AFTER)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
