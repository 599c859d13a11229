"""Background tasks of notifications (django-tasks; the worker is `manage.py
db_worker`). Each runs after the commit that enqueued it and retries with backoff
(realtime.tasks.retry)."""

import logging

from django.utils import timezone
from django_tasks import task

from realtime.tasks import enqueue_on_commit, retry

from . import deliveries, emails

logger = logging.getLogger(__name__)


@task()
def email_send(user_id: int, notification_ids: list[int], attempt: int = 1) -> dict:
    """Email the user's waiting notifications once the earliest is due (see
    notifications.emails); when none is due yet, run again when it is."""
    now = timezone.now()
    try:
        outcome = emails.send_due(user_id=user_id, notification_ids=notification_ids, now=now)
    except Exception as error:
        emails.record_failure(user_id=user_id, error=error, now=now)
        retry(email_send, user_id, notification_ids, attempt=attempt)
        raise
    if outcome.later is not None:
        # The preferences changed (a digest instead, quiet hours) or a newer run is due first.
        enqueue_on_commit(email_send, user_id, notification_ids, run_after=outcome.later)
    return {"sent": outcome.sent, "skipped": outcome.skipped}


@task()
def broadcast_deliveries_record(broadcast_id: int, channel: str, status: str) -> int:
    """Record where a broadcast's rows went, one Delivery each (bookkeeping for
    the admin: tens of thousands of rows, written here rather than while
    `broadcast()`'s caller waits). Safe to run twice."""
    return deliveries.record_broadcast(broadcast_id, channel=channel, status=status)
