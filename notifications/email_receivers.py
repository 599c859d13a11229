"""Schedule the email of stored notifications: a task per recipient who may
want one, run when notifications.policy says it is due, unless a run this
process enqueued already comes by then."""

import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from django.utils import timezone

from realtime.tasks import enqueue_on_commit

from . import policy, tasks
from .models import Notification
from .signals import notifications_stored

logger = logging.getLogger(__name__)


class ScheduledEmails:
    """The email runs (`tasks.email_send`) this process enqueued, by user: one
    run emails every notification waiting for the user once the earliest is due
    (notifications.emails.send_due), and decides everything again when it runs.
    So a notification stored before a run starts needs no run of its own when
    that run is due no later than its own would be: ten messages of one
    conversation make one run, not ten, and a digest's day makes one an hour.

    A run counts as not yet started until `margin` before its time (the task
    worker's clock may run ahead of this one); it is trusted for `trust` after
    it was enqueued (a task row deleted by hand delays the email that long at
    most, until a later notification's own run). At most `size` users are kept,
    the least recently scheduled dropped first; writers and request threads
    share it, so every look and change holds a lock."""

    def __init__(
        self,
        *,
        size: int = 50_000,
        margin: timedelta = timedelta(seconds=30),
        trust: timedelta = timedelta(hours=1),
    ) -> None:
        self.size = size
        self.margin = margin
        self.trust = trust
        self._runs: OrderedDict[int, tuple[datetime, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def covers(self, user_id: int, send_at: datetime, *, now: datetime) -> bool:
        """Whether a run enqueued here will email what is stored for `user_id`
        now, by `send_at`."""
        with self._lock:
            run = self._runs.get(user_id)
        if run is None:
            return False
        run_after, enqueued_at = run
        return now + self.margin < run_after <= send_at and now - enqueued_at < self.trust

    def add(self, user_id: int, run_after: datetime) -> None:
        """Remember a run for `user_id` at `run_after`, just enqueued."""
        with self._lock:
            self._runs[user_id] = (run_after, timezone.now())
            self._runs.move_to_end(user_id)
            if len(self._runs) > self.size:
                self._runs.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._runs.clear()


scheduled = ScheduledEmails()


def on_notifications_stored(
    sender, notifications: Sequence[Notification], kinds: frozenset[str], **kwargs
) -> None:
    """Enqueue `email_send` for each recipient of an email-worthy notification
    whose email no run enqueued earlier will send."""
    if not kinds & policy.EMAIL_KINDS:
        # A broadcast, say: none of its rows is read.
        return
    now = timezone.now()
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for notification in notifications:
        # Cheap tests first: the preferences are read only for these.
        if notification.kind in policy.EMAIL_KINDS and policy.can_be_emailed(
            notification.recipient
        ):
            by_user[notification.recipient_id].append(notification)
    for user_id, stored in by_user.items():
        send_at = policy.email_send_at(stored[0].recipient, now=now)
        if send_at is None or scheduled.covers(user_id, send_at, now=now):
            continue
        wanted = [n.pk for n in stored if policy.email_wanted(n, now=now)]
        if wanted:
            enqueue_on_commit(
                tasks.email_send,
                user_id,
                wanted,
                run_after=send_at,
                on_enqueued=partial(scheduled.add, user_id, send_at),
            )


def connect() -> None:
    notifications_stored.connect(
        on_notifications_stored, dispatch_uid="notifications.email.on_notifications_stored"
    )
