"""Schedule the email of stored notifications: one task per recipient who may
want one, run when notifications.policy says it is due."""

import logging
from collections import defaultdict
from collections.abc import Sequence

from django.utils import timezone

from realtime.tasks import enqueue_on_commit

from . import policy, tasks
from .models import Notification
from .signals import notifications_stored

logger = logging.getLogger(__name__)


def on_notifications_stored(
    sender, notifications: Sequence[Notification], kinds: frozenset[str], **kwargs
) -> None:
    """Enqueue `email_send` for each recipient of an email-worthy notification."""
    if not kinds & policy.EMAIL_KINDS:
        # A broadcast, say: none of its rows is read.
        return
    now = timezone.now()
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for notification in notifications:
        # Cheap test first: the preferences are read only for these kinds.
        if notification.kind in policy.EMAIL_KINDS and policy.email_wanted(notification, now=now):
            by_user[notification.recipient_id].append(notification)
    for user_id, wanted in by_user.items():
        send_at = policy.email_send_at(wanted[0].recipient, now=now)
        if send_at is not None:
            enqueue_on_commit(tasks.email_send, user_id, [n.pk for n in wanted], run_after=send_at)


def connect() -> None:
    notifications_stored.connect(
        on_notifications_stored, dispatch_uid="notifications.email.on_notifications_stored"
    )
