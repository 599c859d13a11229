"""Background tasks (django-tasks), the two rules every app follows.

1. Enqueue after commit: a task enqueued inside a transaction that rolls back would
   send an email about something that never happened, and a worker that picks it
   up before the commit would not find the rows it reads. `enqueue_on_commit`.

2. Retry with backoff. django-tasks 0.12 has no retries: a task that raises is
   recorded FAILED (with its traceback, in the admin's "Task results") and never
   runs again. `retry` is ours, small and explicit: a task that fails calls it to
   enqueue itself once more with `attempt + 1`, `backoff(attempt)` later (1, 4, 16,
   64 minutes), and re-raises, so every failed attempt stays visible in the admin.
   After MAX_ATTEMPTS attempts it gives up and logs an error. Tasks take an
   `attempt: int = 1` keyword argument for it and must be safe to run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks.base import Task

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_FACTOR = 4


def backoff(attempt: int) -> timedelta:
    """Return how long to wait after failed attempt number `attempt` (from 1)."""
    return BACKOFF_BASE * BACKOFF_FACTOR ** (attempt - 1)


def enqueue_on_commit(
    task: Task,
    *args: Any,
    run_after: datetime | None = None,
    on_enqueued: Callable[[], None] | None = None,
    **kwargs: Any,
) -> None:
    """Enqueue `task(*args, **kwargs)` once the current transaction commits (at
    once outside one), to run no earlier than `run_after`; then call
    `on_enqueued`, only if the task was enqueued."""

    def enqueue() -> None:
        scheduled = task.using(run_after=run_after) if run_after is not None else task
        scheduled.enqueue(*args, **kwargs)
        if on_enqueued is not None:
            on_enqueued()

    # robust: a failed enqueue is logged and does not stop the other callbacks.
    transaction.on_commit(enqueue, robust=True)


def retry(task: Task, *args: Any, attempt: int, now: datetime | None = None, **kwargs: Any) -> bool:
    """Enqueue attempt `attempt + 1` of `task` after the backoff; return False,
    enqueuing nothing, when `attempt` was the last one allowed."""
    if attempt >= MAX_ATTEMPTS:
        logger.error("task %s failed %s times: giving up", task.name, attempt)
        return False
    run_after = (now or timezone.now()) + backoff(attempt)
    enqueue_on_commit(task, *args, run_after=run_after, attempt=attempt + 1, **kwargs)
    logger.warning(
        "task %s failed (attempt %s of %s): retrying at %s",
        task.name,
        attempt,
        MAX_ATTEMPTS,
        run_after.isoformat(),
    )
    return True
